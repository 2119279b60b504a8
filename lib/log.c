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
 * Runs in every process.  Formats a line and hands it to syslog, stderr or
 * the installed sink.  Never logs a password: callers pass none.
 *
 * Lines of one kind (one format string) are limited to LOG_BURST per
 * LOG_PERIOD_SECS in each process, so that a flood of refused
 * connections or junk commands costs a few lines; the rest are counted
 * and summed up as "... (repeated N times)" when the period is over or
 * the process ends.  Debug lines and fatal errors are never held back.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "params.h"

static int		 log_stderr = 1;	/* until log_init() */
static int		 log_console = 1;	/* stderr is not the client */
static int		 log_echo;	/* also to stderr while starting */
static int		 log_level = LOG_INFO;
static const char	*log_proc = "master";
static char		 log_sess[32];
static log_sink_fn	 log_sink;
static int		 log_trace = -1;
static int		 log_tracing;	/* a tracefile exists somewhere */
static void		(*log_fatal_hook)(void);

#define LOG_KINDS	16

/* One kind of line being limited: its count and what was held back. */
struct log_kind {
	const void	*key;
	time_t		 start;
	int		 n;
	int		 held;
	int		 prio;
	char		 line[LOG_LINE_MAX];
};

static struct log_kind	 log_kinds[LOG_KINDS];

static void	vlog(int, const char *, va_list, int);
static void	check_syslog(void);

void
log_init(int to_stderr, int facility)
{
	log_stderr = to_stderr && log_console;
	if (!log_stderr) {
		openlog("popsepd", LOG_PID | LOG_NDELAY, facility);
		check_syslog();
	}
}

/*
 * Without a syslog daemon every line would vanish without a word: say so
 * once, where the administrator starting popsepd sees it.
 */
static void
check_syslog(void)
{
	static int	said;
	struct stat	st;

	if (said || !log_console)
		return;
	said = 1;
	if (stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode))
		return;
	dprintf(STDERR_FILENO, "popsepd: no syslog daemon is listening on "
	    "%s: log lines are lost (use -d, or set tracefile)\n", _PATH_LOG);
}

/*
 * Standard error is the client's socket (inetd): nothing may be written
 * to it, so from now on every line goes to syslog, Qpopper's default
 * facility until log_init() names the configured one.
 */
void
log_console_off(void)
{
	log_console = 0;
	log_stderr = 0;
	log_echo = 0;
	openlog("popsepd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_console_ok(void)
{
	return log_console;
}

/*
 * A message about the configuration or the command line, for the
 * administrator: on standard error, or to syslog when standard error is
 * the client's socket.
 */
void
log_conf(const char *fmt, ...)
{
	char	buf[LOG_LINE_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_console)
		dprintf(STDERR_FILENO, "%s\n", buf);
	else
		syslog(LOG_ERR, "%s", buf);
}

/*
 * While a daemon starts, its errors also go to standard error, where the
 * administrator who started it sees them.
 */
void
log_startup(int on)
{
	log_echo = on && log_console;
}

/*
 * A new process keeps nothing of its parent's counts.  A kind never used
 * is all zero already (a key is set first): leaving it alone leaves its
 * pages shared with the parent's.
 */
static void
kinds_reset(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (log_kinds[i].key != NULL)
			memset(&log_kinds[i], 0, sizeof(log_kinds[i]));
}

void
log_procname(const char *name)
{
	log_proc = name;
	kinds_reset();
}

void
log_session(const char *id)
{
	strlcpy(log_sess, id, sizeof(log_sess));
	kinds_reset();
}

const char *
log_session_id(void)
{
	return log_sess;
}

void
log_set_sink(log_sink_fn fn)
{
	log_sink = fn;
}

/* Runs once before a fatal exit: the monitor releases its mailbox lock. */
void
log_set_fatal_hook(void (*fn)(void))
{
	log_fatal_hook = fn;
}

static __attribute__((noreturn)) void
die(void)
{
	void	(*fn)(void) = log_fatal_hook;

	log_fatal_hook = NULL;
	log_flush();
	if (fn != NULL)
		fn();
	_exit(1);
}

void
log_verbose(int v)
{
	log_level = v ? LOG_DEBUG : LOG_INFO;
}

/*
 * Qpopper's tracefile: every line, debug included, with a time stamp, in a
 * file opened by the master as root.  Children that cannot write it send
 * their lines to the monitor, which can.
 */
int
log_trace_open(const char *path)
{
	log_trace = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	log_tracing = log_trace != -1;
	return log_trace == -1 ? -1 : 0;
}

/*
 * SIGHUP in the master: the tracefile opened again (rotated away, or
 * another path), or closed when none is set any more.  The old one stays
 * open if the new one cannot be.
 */
int
log_trace_reopen(const char *path)
{
	int	fd = -1;

	if (path[0] != '\0' && (fd = open(path, O_WRONLY | O_APPEND |
	    O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return -1;
	if (log_trace != -1)
		close(log_trace);
	log_trace = fd;
	log_tracing = fd != -1;
	return 0;
}

/* A process that closed the descriptor must not write to its number. */
void
log_trace_forget(void)
{
	log_trace = -1;
}

int
log_trace_fd(void)
{
	return log_trace;
}

static void
trace(const char *line)
{
	char		ts[32];
	time_t		now = time(NULL);
	struct tm	tm;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		ts[0] = '\0';
	dprintf(log_trace, "%s popsepd[%ld]: %s\n", ts, (long)getpid(), line);
}

/*
 * Write one finished line: used for lines relayed from a child, too.  A
 * child with a sink sends debug lines only when someone traces them.
 */
void
log_emit(int prio, const char *line)
{
	if (log_sink != NULL) {
		if (prio <= log_level || log_tracing)
			log_sink(prio, line);
		return;
	}
	if (log_trace != -1)
		trace(line);
	if (prio > log_level)
		return;
	if (log_stderr) {
		dprintf(STDERR_FILENO, "popsepd[%ld]: %s\n", (long)getpid(),
		    line);
		return;
	}
	syslog(prio, "%s", line);
	if (log_echo && prio <= LOG_WARNING)
		dprintf(STDERR_FILENO, "popsepd: %s\n", line);
}

static time_t
mono_secs(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
kind_flush(struct log_kind *k)
{
	char	line[LOG_LINE_MAX + 32];

	if (k->held > 0) {
		snprintf(line, sizeof(line), "%s (repeated %d times)", k->line,
		    k->held);
		k->held = 0;
		log_emit(k->prio, line);
	}
}

/*
 * Whether a line of this kind is held back.  A kind not seen yet takes
 * the room of the one seen longest ago, whose count is written first.
 */
static int
held_back(const void *key, int prio, const char *line)
{
	struct log_kind	*k = NULL;
	time_t		 now = mono_secs();
	size_t		 i, old = 0;

	for (i = 0; i < LOG_KINDS && k == NULL; i++)
		if (log_kinds[i].key == key)
			k = &log_kinds[i];
		else if (log_kinds[i].start < log_kinds[old].start)
			old = i;
	if (k == NULL) {
		k = &log_kinds[old];
		kind_flush(k);
		k->key = key;
		k->n = 0;
		k->start = now;
	}
	if (now - k->start >= LOG_PERIOD_SECS) {
		kind_flush(k);
		k->n = 0;
		k->start = now;
	}
	if (++k->n <= LOG_BURST)
		return 0;
	k->held++;
	k->prio = prio;
	strlcpy(k->line, line, sizeof(k->line));
	return 1;
}

/* Write what is held back: at exit, and before a fatal error. */
void
log_flush(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		kind_flush(&log_kinds[i]);
}

/* Whether a count waits for its period to end (log_flush_expired()). */
int
log_pending(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (log_kinds[i].held > 0)
			return 1;
	return 0;
}

void
log_flush_expired(void)
{
	time_t	now = mono_secs();
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (log_kinds[i].held > 0 &&
		    now - log_kinds[i].start >= LOG_PERIOD_SECS) {
			kind_flush(&log_kinds[i]);
			log_kinds[i].n = 0;
			log_kinds[i].start = now;
		}
}

/*
 * A line relayed from another process, under the limit of its kind
 * (key: one per channel), or as it is with key NULL.
 */
void
log_emit_limited(const void *key, int prio, const char *line)
{
	if (key != NULL && prio > LOG_CRIT && prio < LOG_DEBUG &&
	    held_back(key, prio, line))
		return;
	log_emit(prio, line);
}

static void
vlog(int prio, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
	int	 saved = errno;

	if (prio > log_level && !log_tracing)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_sess[0] != '\0')
		snprintf(line, sizeof(line), "%s %s: %s%s%s", log_proc,
		    log_sess, msg, with_errno ? ": " : "",
		    with_errno ? strerror(saved) : "");
	else
		snprintf(line, sizeof(line), "%s: %s%s%s", log_proc, msg,
		    with_errno ? ": " : "", with_errno ? strerror(saved) : "");
	log_emit_limited(fmt, prio, line);
	errno = saved;
}

#define LOGFN(name, prio, err)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	va_start(ap, fmt);					\
	vlog(prio, fmt, ap, err);				\
	va_end(ap);						\
}

LOGFN(log_warn, LOG_WARNING, 1)
LOGFN(log_warnx, LOG_WARNING, 0)
LOGFN(log_info, LOG_INFO, 0)
LOGFN(log_notice, LOG_NOTICE, 0)
LOGFN(log_debug, LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	die();
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	die();
}

void
bug(const char *fmt, ...)
{
	char	buf[LOG_LINE_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fatalx("internal error: %s", buf);
}
