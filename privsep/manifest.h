/*
 * Copyright (c) 2026 The popsep authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */
/*
 * The privilege manifest (popsepd -P): what each process runs as, where,
 * under which filter, with which descriptors, and which frames it takes.
 * manifest.c prints it in the process that read the command line, as
 * root or not; it only reads the configuration and the tables below,
 * which the processes themselves use: each process's descriptor table
 * names the slots of the keep[] list it passes to close_all_but(), then
 * the descriptors it gets later.
 */

#ifndef POPSEP_MANIFEST_H
#define POPSEP_MANIFEST_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* One descriptor a process holds after its set-up. */
struct proc_fd {
	const char	*name;
	const char	*kind;	/* socket, file, pipe, memfd; stdio: 0-2 */
	const char	*when;	/* start, login, locked, exchange */
	const char	*cond;	/* the setting it needs (manifest.c), or NULL */
	const char	*each;	/* one per session, connection, listen */
};

/* The slots of proc_fork_helper()'s keep[] (key and metrics process). */
enum { HELPER_FD_STDERR, HELPER_FD_CHANNEL, HELPER_FD_EXTRA, HELPER_NKEEP };

const struct proc_fd *master_fds(size_t *);		/* master.c */
const struct proc_fd *keyproc_fds(size_t *);		/* keyproc.c */
const struct proc_fd *metricsproc_fds(size_t *);	/* metricsproc.c */
const struct proc_fd *monitor_fds(size_t *);		/* monitor.c */
const struct proc_fd *netchild_fds(size_t *);		/* netchild.c */
const struct proc_fd *spool_fds(size_t *);		/* spoolworker.c */
const struct proc_fd *gssproc_fds(size_t *);		/* gssproc.c */
const struct proc_fd *auth_child_fds(size_t *);	/* monitor.c */

void	manifest_print(const struct config *, FILE *);

#endif /* POPSEP_MANIFEST_H */
