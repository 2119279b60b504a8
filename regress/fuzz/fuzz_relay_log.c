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
 * libFuzzer target for relay_log() of privsep/proc.c, the path by which
 * a log frame from a less trusted process (network child, spool worker,
 * key process) becomes a syslog line of the monitor or the master.  The
 * frame body is the sender's, hostile in every byte.  The input is
 *
 *	byte 0		bits 0-1 the sender (net, spool, key, net with
 *			another session id), bit 2 write the data length
 *			field to match the body, bit 3 log debug lines too
 *	the rest	the frame body as received: u8 priority, u32
 *			length (host order), the line
 *
 * Body lengths are those the monitor's dispatch table lets through (5 to
 * 5 + LOG_LINE_MAX).  The lines reach a sink installed with
 * log_set_sink(); fatalx() longjmps back here through the fatal hook.
 * Checked besides the sanitizers: a body that is not one priority, one
 * length and that many bytes (at most LOG_LINE_MAX - 1) is fatal, and
 * only such a body; otherwise exactly one line is emitted (none for a
 * debug line when debug is off), at a priority from crit to debug (the
 * sender's if it is one, else warning), at most LOG_LINE_MAX + 64 bytes,
 * every byte from 0x20 to 0x7e, and either the sender's line, if it
 * starts with the sender's prefix, or the prefix, "[unverified]" and
 * the line: every byte of it, non-printable ones as "?".  Runs in no
 * process of the daemon.
 */

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "msg.h"
#include "params.h"
#include "session.h"
#include "fuzz.h"

/*
 * privsep/proc.c's proc_fork_helper(), which this target never calls,
 * wipes the guard's key in the child; the guard itself is not linked.
 */
void	guard_forget(void);

void
guard_forget(void)
{
}

static jmp_buf	 fatal_jmp;
static int	 nlines;
static int	 last_prio;
static char	 last_line[2 * LOG_LINE_MAX];
static size_t	 last_len;
static struct msg m;

static void
sink(int prio, const char *line)
{
	nlines++;
	last_prio = prio;
	last_len = strlen(line);
	ASSERT(last_len < sizeof(last_line));
	memcpy(last_line, line, last_len + 1);
}

static void
fatal_hook(void)
{
	longjmp(fatal_jmp, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prefixes[] = {
		"net 4f1c2a9e0b7d3856: ", "spool 4f1c2a9e0b7d3856: ", "key: ",
		"net 0000000000000001: ",
	};
	const char	*prefix;
	char		 want[2 * LOG_LINE_MAX];
	uint32_t	 n;
	size_t		 blen, i, plen;
	int		 flags, well_formed, prio;

	if (size < 1 || size - 1 < 5 || size - 1 > 5 + LOG_LINE_MAX)
		return 0;
	flags = data[0];
	prefix = prefixes[flags & 3];
	plen = strlen(prefix);
	blen = size - 1;

	msg_init(&m, 1);
	memcpy(m.body, data + 1, blen);
	m.len = blen;
	if (flags & 4) {
		n = (uint32_t)(blen - 5);
		memcpy(m.body + 1, &n, sizeof(n));
	}
	memcpy(&n, m.body + 1, sizeof(n));
	well_formed = (size_t)n == blen - 5 && n <= LOG_LINE_MAX - 1;

	log_set_sink(sink);
	log_verbose(flags & 8);
	nlines = 0;
	if (setjmp(fatal_jmp) != 0) {
		ASSERT(!well_formed);
		return 0;
	}
	log_set_fatal_hook(fatal_hook);
	relay_log(&m, prefix);
	log_set_fatal_hook(NULL);
	ASSERT(well_formed);

	prio = m.body[0];
	if (prio < LOG_CRIT || prio > LOG_DEBUG)
		prio = LOG_WARNING;
	if (prio == LOG_DEBUG && !(flags & 8)) {
		ASSERT(nlines == 0);
		return 0;
	}
	ASSERT(nlines == 1);
	ASSERT(last_prio == prio);
	ASSERT(last_len <= LOG_LINE_MAX + 64);
	for (i = 0; i < last_len; i++)
		ASSERT(last_line[i] >= 0x20 && last_line[i] <= 0x7e);

	/* The line the sender sent, as it must appear. */
	for (i = 0; i < n; i++) {
		uint8_t c = m.body[5 + i];

		want[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
	}
	want[n] = '\0';
	if (n >= plen && memcmp(want, prefix, plen) == 0)
		ASSERT(strcmp(last_line, want) == 0);
	else {
		ASSERT(strncmp(last_line, prefix, plen) == 0);
		ASSERT(strncmp(last_line + plen, "[unverified]", 12) == 0);
		ASSERT(strcmp(last_line + plen + 12, want) == 0);
	}
	return 0;
}
