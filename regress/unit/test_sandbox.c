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
 * The three seccomp allow-lists, really loaded: in a forked child, each
 * filter lets the process allocate memory and write, and kills it with
 * SIGSYS for opening a file, creating a socket, running a program, or
 * mapping executable memory.  The session children's filters are loaded
 * both ways: built from the list, and from the programs the master makes
 * before its first session (sandbox_prepare_sessions(), called here
 * before the "prepared" rows).  Needs root (or CAP_SYS_ADMIN) only for
 * the filter; no privilege is dropped here.
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"
#include "test.h"
#include "test_sandboxes.h"

enum action {
	ACT_MALLOC_WRITE,
	ACT_OPEN,
	ACT_SOCKET,
	ACT_EXEC,
	ACT_MMAP_EXEC,
	ACT_MMAP_RW,
};

static const struct {
	const char	*name;
	void		(*apply)(void);
	int		 prepared;	/* after sandbox_prepare_sessions() */
} sandboxes[] = {
	{ "net", apply_net, 0 },
	{ "spool", apply_spool, 0 },
	{ "key", sandbox_key, 0 },
	{ "net (prepared)", apply_net, 1 },
	{ "spool (prepared)", apply_spool, 1 },
};

static const struct {
	enum action	 act;
	const char	*name;
	int		 must_die;
} cases[] = {
	{ ACT_MALLOC_WRITE, "malloc of 40 MB and write", 0 },
	{ ACT_MMAP_RW, "mmap of readable, writable memory", 0 },
	{ ACT_OPEN, "open of /etc/passwd", 1 },
	{ ACT_SOCKET, "socket()", 1 },
	{ ACT_EXEC, "execve of /bin/true", 1 },
	{ ACT_MMAP_EXEC, "mmap with PROT_EXEC", 1 },
};

static void
act(enum action a)
{
	char	*p, *argv[] = { "true", NULL };
	int	 fd;

	switch (a) {
	case ACT_MALLOC_WRITE:
		if ((p = malloc(40 << 20)) == NULL)
			_exit(3);
		memset(p, 1, 40 << 20);
		if (write(STDOUT_FILENO, "", 0) != 0)
			_exit(4);
		free(p);
		break;
	case ACT_MMAP_RW:
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		break;
	case ACT_OPEN:
		fd = open("/etc/passwd", O_RDONLY);
		(void)fd;
		break;
	case ACT_SOCKET:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		(void)fd;
		break;
	case ACT_EXEC:
		execv("/bin/true", argv);
		break;
	case ACT_MMAP_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		(void)p;
		break;
	}
	_exit(0);
}

int
main(void)
{
	size_t	i, j;
	pid_t	pid;
	int	st;

	if (geteuid() != 0) {
		printf("SKIP sandbox (needs root to load filters)\n");
		return 0;
	}
	for (i = 0; i < sizeof(sandboxes) / sizeof(sandboxes[0]); i++) {
		if (sandboxes[i].prepared && !sandboxes[i - 1].prepared)
			sandbox_prepare_sessions();
		for (j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
#ifdef POPSEP_SANITIZE
			/* The sanitizer build lets its runtime open files. */
			if (cases[j].act == ACT_OPEN) {
				printf("SKIP %s sandbox kills on %s (sanitizer "
				    "build)\n", sandboxes[i].name, cases[j].name);
				continue;
			}
#endif
			fflush(stdout);
			if ((pid = fork()) == -1)
				return 1;
			if (pid == 0) {
				sandboxes[i].apply();
				act(cases[j].act);
			}
			if (waitpid(pid, &st, 0) != pid)
				return 1;
			if (cases[j].must_die)
				CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
				    "%s sandbox kills on %s", sandboxes[i].name,
				    cases[j].name);
			else
				CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				    "%s sandbox allows %s", sandboxes[i].name,
				    cases[j].name);
		}
	}
	TEST_EXIT();
}
