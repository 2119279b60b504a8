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
 * Writes the deterministic mbox spools of the benchmark (make bench) to
 * standard output.  Not part of any server process; trusts its arguments.
 * The same arguments give the same bytes on every machine.
 *
 *	mkmbox -n messages [-t total-bytes] [-m largest-bytes] [-s seed]
 *
 * Messages have From_ lines, Received/Message-ID/Date/From/To/Subject
 * headers and bodies of text lines (some escaped as ">From ", some
 * starting with "." so POP3 dot-stuffing is exercised) or base64-like
 * attachment lines.  Message sizes are log-uniform between 600 bytes and
 * 64 KiB, scaled so that all messages add up to about total-bytes; the
 * message in the middle is largest-bytes long.  Without -t the sizes are
 * left unscaled.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t	rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: small, fast, and the same everywhere */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t
rng_below(uint64_t n)
{
	return rng() % n;
}

static const char *words[] = {
	"the", "mail", "server", "from", "message", "report", "quarterly",
	"meeting", "agenda", "please", "find", "attached", "review", "budget",
	"draft", "thanks", "regards", "schedule", "tomorrow", "project",
	"release", "notes", "update", "question", "answer", "about", "with",
	"and", "for", "this", "that", "will", "have", "been", "send", "again",
	"kernel", "patch", "build", "test", "results", "office", "travel",
	"invoice", "customer", "support", "ticket", "closed", "opened", "team",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

static const char *names[] = {
	"Alice Martin", "Bob Keller", "Carol Dubois", "Dan Novak",
	"Eve Larsen", "Frank Moreau", "Grace Tanaka", "Heidi Svensson",
	"Ivan Petrov", "Judy Okafor",
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

static const char *days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
    "Sun" };
static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static char	outbuf[1 << 20];
static size_t	outlen;

static void
flush_out(void)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < outlen) {
		if ((n = write(STDOUT_FILENO, outbuf + off, outlen - off)) <= 0) {
			perror("mkmbox: write");
			exit(1);
		}
		off += (size_t)n;
	}
	outlen = 0;
}

static void
put(const char *s, size_t len)
{
	if (outlen + len > sizeof(outbuf))
		flush_out();
	if (len > sizeof(outbuf)) {
		fprintf(stderr, "mkmbox: line too long\n");
		exit(1);
	}
	memcpy(outbuf + outlen, s, len);
	outlen += len;
}

static void
puts_out(const char *s)
{
	put(s, strlen(s));
}

/* A text line of about width bytes, LF included; returns its length. */
static size_t
text_line(char *line, size_t width)
{
	size_t		len = 0, wl;
	const char	*w;
	uint64_t	r = rng_below(100);

	/* a few lines that a mbox must escape, or that POP3 must stuff */
	if (r < 2)
		len = (size_t)snprintf(line, width, ">From the archive: ");
	else if (r < 3)
		len = (size_t)snprintf(line, width, ">>From quoted text, ");
	else if (r < 5)
		len = (size_t)snprintf(line, width, ".");
	while (len + 12 < width) {
		w = words[rng_below(NWORDS)];
		wl = strlen(w);
		memcpy(line + len, w, wl);
		len += wl;
		line[len++] = ' ';
	}
	line[len - 1] = '\n';
	return len;
}

static size_t
b64_line(char *line)
{
	static const char	alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t		r = 0;
	int			i;

	for (i = 0; i < 76; i++) {
		if (i % 10 == 0)
			r = rng();
		line[i] = alpha[r & 63];
		r >>= 6;
	}
	line[76] = '\n';
	return 77;
}

static void
message(unsigned long seq, size_t size)
{
	char		hdr[2048], line[128];
	size_t		done, len;
	unsigned	day = (unsigned)(seq % 28) + 1, mon = (unsigned)(seq / 28
	    % 12), hh = (unsigned)rng_below(24), mm = (unsigned)rng_below(60),
			ss = (unsigned)rng_below(60);
	const char	*from = names[rng_below(NNAMES)];
	const char	*to = names[rng_below(NNAMES)];
	int		attach = size > 16384 && rng_below(3) != 0;

	len = (size_t)snprintf(hdr, sizeof(hdr),
	    "From sender%lu@example.org %s %s %2u %02u:%02u:%02u 2026\n"
	    "Return-Path: <sender%lu@example.org>\n"
	    "Received: from mx%lu.example.org (mx%lu.example.org "
	    "[192.0.2.%lu])\n\tby mail.example.net (Postfix) with ESMTPS "
	    "id %08lX%04X\n\tfor <bench@example.net>; %s, %u %s 2026 "
	    "%02u:%02u:%02u +0000\n"
	    "Message-ID: <%lu.%016llx@example.org>\n"
	    "Date: %s, %u %s 2026 %02u:%02u:%02u +0000\n"
	    "From: %s <sender%lu@example.org>\n"
	    "To: %s <bench@example.net>\n"
	    "Subject: %s %s %s, part %lu\n"
	    "MIME-Version: 1.0\n",
	    seq % 97, days[seq % 7], months[mon], day, hh, mm, ss,
	    seq % 97, seq % 5, seq % 5, seq % 250 + 1, seq,
	    (unsigned)rng_below(65536), days[seq % 7], day, months[mon], hh,
	    mm, ss, seq, (unsigned long long)rng(), days[seq % 7], day,
	    months[mon], hh, mm, ss, from, seq % 97, to,
	    words[rng_below(NWORDS)], words[rng_below(NWORDS)],
	    words[rng_below(NWORDS)], seq);
	puts_out(hdr);
	done = len;
	if (attach) {
		len = (size_t)snprintf(hdr, sizeof(hdr),
		    "Content-Type: multipart/mixed; boundary=\"b%lu\"\n\n"
		    "--b%lu\nContent-Type: text/plain; charset=utf-8\n\n",
		    seq, seq);
		puts_out(hdr);
		done += len;
		for (int i = 0; i < 8; i++) {
			len = text_line(line, 40 + rng_below(36));
			put(line, len);
			done += len;
		}
		len = (size_t)snprintf(hdr, sizeof(hdr),
		    "\n--b%lu\nContent-Type: application/octet-stream; "
		    "name=\"data%lu.bin\"\nContent-Transfer-Encoding: base64\n\n",
		    seq, seq);
		puts_out(hdr);
		done += len;
		while (done + 77 + 16 < size) {
			len = b64_line(line);
			put(line, len);
			done += len;
		}
		len = (size_t)snprintf(hdr, sizeof(hdr), "--b%lu--\n", seq);
		puts_out(hdr);
		done += len;
	} else {
		puts_out("Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n");
		done += 73;
		while (done + 80 < size) {
			len = text_line(line, 40 + rng_below(36));
			put(line, len);
			done += len;
		}
	}
	/* a blank line before the next From_ line, as delivery agents write */
	puts_out("\n");
}

int
main(int argc, char *argv[])
{
	unsigned long	 n = 0, i;
	double		 total = 0, largest = 0, sum = 0, scale = 1;
	double		*sizes;
	int		 ch;

	rng_state = 0x9E3779B97F4A7C15ULL;
	while ((ch = getopt(argc, argv, "m:n:s:t:")) != -1) {
		switch (ch) {
		case 'm':
			largest = strtod(optarg, NULL);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state ^= strtoull(optarg, NULL, 10) *
			    0xBF58476D1CE4E5B9ULL;
			break;
		case 't':
			total = strtod(optarg, NULL);
			break;
		default:
			goto usage;
		}
	}
	if (n == 0 || n > 10000000) {
usage:
		fprintf(stderr, "usage: mkmbox -n messages [-t total-bytes] "
		    "[-m largest-bytes] [-s seed]\n");
		return 2;
	}
	if ((sizes = calloc(n, sizeof(*sizes))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		sizes[i] = 600.0 * exp((double)rng_below(1000000) / 1e6 *
		    log(65536.0 / 600.0));
		sum += sizes[i];
	}
	if (largest > 0) {
		sum -= sizes[n / 2];
		sizes[n / 2] = 0;
	}
	if (total > 0 && sum > 0)
		scale = (total - largest) / sum;
	if (scale <= 0)
		scale = 1;
	for (i = 0; i < n; i++) {
		if (largest > 0 && i == n / 2)
			message(i + 1, (size_t)largest);
		else
			message(i + 1, (size_t)(sizes[i] * scale));
	}
	flush_out();
	free(sizes);
	return 0;
}
