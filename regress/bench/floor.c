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
 * The floors the benchmark suite (make bench) sets beside the big-mailbox
 * timings: the least work any mbox POP3 server must do.  Not part of any
 * server process; trusts its arguments.
 *
 *	floor scan MBOX		read MBOX with 1 MiB reads and find every
 *				"From " line with memchr: the floor of a
 *				first login and STAT
 *	floor copy MBOX DEST [nosync]
 *				copy MBOX without its first message to the
 *				new file DEST and fsync DEST (not with
 *				nosync): the floor of DELE 1 then QUIT
 *
 * Prints messages=, bytes= and ms= on one line.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	(1024 * 1024)

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Reads the whole file with 1 MiB reads; returns the number of lines that
 * start with "From ", and in *second_r the offset of the second (-1 if
 * there is none).  The bytes after the last newline of a piece that are
 * too few to tell are carried over to the next one.
 */
static long
scan_file(int fd, long long *bytes_r, long long *second_r)
{
	static char	 buf[CHUNK + 8];
	long long	 base = -1, total = 0;
	const char	*p, *nl, *end;
	size_t		 keep = 1, len;
	long		 n = 0;
	ssize_t		 r;

	/* a newline before the file: its first line may be a From_ line */
	buf[0] = '\n';
	*second_r = -1;
	while ((r = read(fd, buf + keep, CHUNK)) > 0) {
		total += r;
		len = keep + (size_t)r;
		p = buf;
		end = buf + len;
		keep = 0;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (end - nl < 6) {
				keep = (size_t)(end - nl);
				break;
			}
			if (memcmp(nl + 1, "From ", 5) == 0 && ++n == 2)
				*second_r = base + (nl + 1 - buf);
			p = nl + 1;
		}
		base += (long long)(len - keep);
		memmove(buf, end - keep, keep);
	}
	if (r < 0) {
		perror("floor: read");
		exit(1);
	}
	*bytes_r = total;
	return n;
}

int
main(int argc, char *argv[])
{
	static char	 buf[CHUNK];
	long long	 bytes, second, copied = 0;
	double		 t0, t;
	long		 n;
	ssize_t		 r, w;
	int		 fd, out;

	if (argc < 3 || (strcmp(argv[1], "scan") != 0 &&
	    strcmp(argv[1], "copy") != 0) ||
	    (strcmp(argv[1], "copy") == 0 && argc != 4 && (argc != 5 ||
	    strcmp(argv[4], "nosync") != 0))) {
		fprintf(stderr, "usage: floor scan MBOX | "
		    "floor copy MBOX DEST [nosync]\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDONLY)) == -1) {
		perror(argv[2]);
		return 1;
	}
	if (strcmp(argv[1], "scan") == 0) {
		t0 = now();
		n = scan_file(fd, &bytes, &second);
		t = now() - t0;
		printf("messages=%ld bytes=%lld ms=%.3f\n", n, bytes, t * 1e3);
		return 0;
	}
	/* the offset of message 2 is found before the clock starts */
	(void)scan_file(fd, &bytes, &second);
	if (second < 0) {
		fprintf(stderr, "floor: %s has fewer than two messages\n",
		    argv[2]);
		return 1;
	}
	if ((out = open(argv[3], O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		perror(argv[3]);
		return 1;
	}
	t0 = now();
	if (lseek(fd, (off_t)second, SEEK_SET) == -1)
		return 1;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (w = 0; w < r; ) {
			ssize_t k = write(out, buf + w, (size_t)(r - w));

			if (k <= 0) {
				perror("floor: write");
				return 1;
			}
			w += k;
		}
		copied += r;
	}
	if (r < 0 || (argc == 4 && fsync(out) == -1)) {
		perror("floor");
		return 1;
	}
	t = now() - t0;
	close(out);
	printf("messages=1 bytes=%lld ms=%.3f\n", copied, t * 1e3);
	return 0;
}
