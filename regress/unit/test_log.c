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
 * Unit tests of lib/log.c's limit on lines of one kind: LOG_BURST lines of
 * one format per LOG_PERIOD_SECS are written, the rest counted and summed
 * up by log_flush() with "(repeated N times)"; other kinds and debug lines
 * are not held back.
 */

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "params.h"
#include "test.h"

static int	captured;
static char	last_line[LOG_LINE_MAX + 64];

static void
capture(int prio, const char *line)
{
	(void)prio;
	captured++;
	strlcpy(last_line, line, sizeof(last_line));
}

static void
test_log_limit(void)
{
	int	i;

	log_set_sink(capture);
	captured = 0;
	for (i = 0; i < LOG_BURST + 7; i++)
		log_warnx("refused number %d", i);
	CHECK(captured == LOG_BURST, "lines of one kind beyond LOG_BURST "
	    "held back (%d written)", captured);
	log_info("another kind");
	CHECK(captured == LOG_BURST + 1, "another kind is written");
	CHECK(log_pending(), "a count is pending");
	log_flush();
	CHECK(captured == LOG_BURST + 2 && strstr(last_line,
	    "refused number 11 (repeated 7 times)") != NULL,
	    "the held lines summed up with a count: %s", last_line);
	CHECK(!log_pending(), "nothing pending after the flush");
	captured = 0;
	for (i = 0; i < LOG_BURST + 3; i++)
		log_debug("debug line %d", i);
	CHECK(captured == LOG_BURST + 3 && !log_pending(), "debug lines are "
	    "never held back");
	captured = 0;
	log_procname("net");
	for (i = 0; i < LOG_BURST; i++)
		log_warnx("refused number %d", i);
	CHECK(captured == LOG_BURST, "a new process starts with no counts");
	log_set_sink(NULL);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_verbose(1);
	test_log_limit();
	TEST_EXIT();
}
