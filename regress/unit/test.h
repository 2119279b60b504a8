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
 * The unit-test harness: each check prints one "PASS name" or "FAIL name"
 * line; regress/run.sh counts them.  A test program exits non-zero if any
 * check failed.
 */

#ifndef POPSEP_TEST_H
#define POPSEP_TEST_H

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int test_failures;

#define CHECK(cond, ...) do {						\
	int check_ok_ = !!(cond);					\
									\
	if (check_ok_) {							\
		printf("PASS ");					\
	} else {							\
		printf("FAIL ");					\
		test_failures++;					\
	}								\
	printf(__VA_ARGS__);						\
	printf("%s\n", check_ok_ ? "" : "  [" #cond "]");			\
	fflush(stdout);							\
} while (0)

#define TEST_EXIT()	return test_failures ? 1 : 0

/* Exit statuses of a must-die child that did not die. */
#define TEST_SURVIVED	0
#define TEST_SETUP	2	/* the child could not set the case up */

typedef void (*test_child_fn)(const void *);

/*
 * Run fn(arg) in a forked child with its standard error captured in err:
 * the way to check that a broken invariant ends a process (fatalx exits
 * 1).  Returns the exit status, or 128 + the signal that killed it.
 */
static __attribute__((unused)) int
test_run_child(test_child_fn fn, const void *arg, char *err, size_t errlen)
{
	char	 drain[512];
	size_t	 off = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status;

	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(TEST_SETUP);
		close(p[1]);
		fn(arg);
		_exit(TEST_SURVIVED);
	}
	close(p[1]);
	for (;;) {
		if (off < errlen - 1)
			n = read(p[0], err + off, errlen - 1 - off);
		else
			n = read(p[0], drain, sizeof(drain));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (off < errlen - 1)
			off += (size_t)n;
	}
	err[off] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			perror("waitpid");
			exit(2);
		}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#endif /* POPSEP_TEST_H */
