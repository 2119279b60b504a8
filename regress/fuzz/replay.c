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
 * Replays inputs through a fuzz target without libFuzzer, so that "make
 * check" builds every target with the project's compiler and runs it on
 * its seed corpus: a target that no longer builds, or an input that once
 * crashed it, fails the check.  Not part of any server process.
 *
 *	replay_NAME FILE...
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char *argv[])
{
	FILE	*fp;
	uint8_t	*buf;
	size_t	 n;
	int	 i;

	if ((buf = malloc(1 << 20)) == NULL)
		return 1;
	for (i = 1; i < argc; i++) {
		if ((fp = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, 1 << 20, fp);
		fclose(fp);
		/* A target aborts on a broken invariant: no PASS line then. */
		LLVMFuzzerTestOneInput(buf, n);
		printf("PASS replay %s\n", argv[i]);
		fflush(stdout);
	}
	free(buf);
	return 0;
}
