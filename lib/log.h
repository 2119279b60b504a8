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
 * Logging for every process.  The master, the session monitor and the key
 * process write to syslog (or stderr with -d).  The network child and the
 * spool worker have no syslog socket in their chroot: they install a sink
 * that sends each line to the monitor, which checks its length and level
 * (see privsep/monitor.c).  Knows no process role itself.
 */

#ifndef POPSEP_LOG_H
#define POPSEP_LOG_H

#include <stdarg.h>

typedef void (*log_sink_fn)(int, const char *);

void	log_init(int, int);
void	log_console_off(void);
int	log_console_ok(void);
void	log_conf(const char *, ...) __attribute__((format(printf, 1, 2)));
int	log_trace_reopen(const char *);
void	log_procname(const char *);
void	log_startup(int);
void	log_session(const char *);
const char *log_session_id(void);
void	log_set_sink(log_sink_fn);
void	log_set_fatal_hook(void (*)(void));
void	log_verbose(int);
int	log_trace_open(const char *);
int	log_trace_fd(void);
void	log_trace_forget(void);
void	log_emit(int, const char *);
void	log_emit_limited(const void *, int, const char *);
void	log_flush(void);
void	log_flush_expired(void);
int	log_pending(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
/* A broken invariant of our own, as opposed to a host failure. */
void	bug(const char *, ...) __attribute__((format(printf, 1, 2),
	    noreturn));

#endif /* POPSEP_LOG_H */
