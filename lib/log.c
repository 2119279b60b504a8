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

#define LOG_KINDS	16

/* One kind of line being limited: its count and how many were held back. */
struct log_kind {
	const void	*key;
	time_t		 start;
	int		 n;
	int		 held;
	int		 prio;
};

/*
 * All that a process changes as it runs, in one small object that never
 * straddles a page: a forked process that names itself, installs a sink
 * and logs a line writes one page of its parent's, not three.  The text
 * of a line held back, which only a flood sets, lives apart.
 */
#define LOG_STATE_ALIGN	1024

static struct log_state {
	int			 to_stderr;	/* until log_init() */
	int			 console;	/* stderr is not the client */
	int			 echo;	/* also to stderr while starting */
	int			 level;
	const char		*proc;
	char			 sess[32];
	log_sink_fn		 sink;
	int			 trace;
	int			 tracing;	/* a tracefile exists somewhere */
	void			(*fatal_hook)(void);
	struct log_kind		 kinds[LOG_KINDS];
} __attribute__((aligned(LOG_STATE_ALIGN))) lg = {
	.to_stderr = 1,
	.console = 1,
	.level = LOG_INFO,
	.proc = "master",
	.trace = -1,
};

_Static_assert(sizeof(struct log_state) <= LOG_STATE_ALIGN,
    "the log state fits in one aligned block");

static char		 log_held[LOG_KINDS][LOG_LINE_MAX];

static void	vlog(int, const char *, va_list, int);
static void	check_syslog(void);

void
log_init(int to_stderr, int facility)
{
	lg.to_stderr = to_stderr && lg.console;
	if (!lg.to_stderr) {
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

	if (said || !lg.console)
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
	lg.console = 0;
	lg.to_stderr = 0;
	lg.echo = 0;
	openlog("popsepd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_console_ok(void)
{
	return lg.console;
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
	if (lg.console)
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
	lg.echo = on && lg.console;
}

/*
 * A new process keeps nothing of its parent's counts.  The text of a held
 * line is read only while its count is above zero, so it stays as it is.
 */
static void
kinds_reset(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (lg.kinds[i].key != NULL)
			memset(&lg.kinds[i], 0, sizeof(lg.kinds[i]));
}

void
log_procname(const char *name)
{
	lg.proc = name;
	kinds_reset();
}

void
log_session(const char *id)
{
	strlcpy(lg.sess, id, sizeof(lg.sess));
	kinds_reset();
}

const char *
log_session_id(void)
{
	return lg.sess;
}

void
log_set_sink(log_sink_fn fn)
{
	lg.sink = fn;
}

/* Runs once before a fatal exit: the monitor releases its mailbox lock. */
void
log_set_fatal_hook(void (*fn)(void))
{
	lg.fatal_hook = fn;
}

static __attribute__((noreturn)) void
die(void)
{
	void	(*fn)(void) = lg.fatal_hook;

	lg.fatal_hook = NULL;
	log_flush();
	if (fn != NULL)
		fn();
	_exit(1);
}

void
log_verbose(int v)
{
	lg.level = v ? LOG_DEBUG : LOG_INFO;
}

/*
 * Qpopper's tracefile: every line, debug included, with a time stamp, in a
 * file opened by the master as root.  Children that cannot write it send
 * their lines to the monitor, which can.
 */
int
log_trace_open(const char *path)
{
	lg.trace = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	lg.tracing = lg.trace != -1;
	return lg.trace == -1 ? -1 : 0;
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
	if (lg.trace != -1)
		close(lg.trace);
	lg.trace = fd;
	lg.tracing = fd != -1;
	return 0;
}

/* A process that closed the descriptor must not write to its number. */
void
log_trace_forget(void)
{
	lg.trace = -1;
}

int
log_trace_fd(void)
{
	return lg.trace;
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
	dprintf(lg.trace, "%s popsepd[%ld]: %s\n", ts, (long)getpid(), line);
}

/*
 * Write one finished line: used for lines relayed from a child, too.  A
 * child with a sink sends debug lines only when someone traces them.
 */
void
log_emit(int prio, const char *line)
{
	if (lg.sink != NULL) {
		if (prio <= lg.level || lg.tracing)
			lg.sink(prio, line);
		return;
	}
	if (lg.trace != -1)
		trace(line);
	if (prio > lg.level)
		return;
	if (lg.to_stderr) {
		dprintf(STDERR_FILENO, "popsepd[%ld]: %s\n", (long)getpid(),
		    line);
		return;
	}
	syslog(prio, "%s", line);
	if (lg.echo && prio <= LOG_WARNING)
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
		snprintf(line, sizeof(line), "%s (repeated %d times)",
		    log_held[k - lg.kinds], k->held);
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
		if (lg.kinds[i].key == key)
			k = &lg.kinds[i];
		else if (lg.kinds[i].start < lg.kinds[old].start)
			old = i;
	if (k == NULL) {
		k = &lg.kinds[old];
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
	strlcpy(log_held[k - lg.kinds], line, sizeof(log_held[0]));
	return 1;
}

/* Write what is held back: at exit, and before a fatal error. */
void
log_flush(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		kind_flush(&lg.kinds[i]);
}

/* Whether a count waits for its period to end (log_flush_expired()). */
int
log_pending(void)
{
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (lg.kinds[i].held > 0)
			return 1;
	return 0;
}

void
log_flush_expired(void)
{
	time_t	now = mono_secs();
	size_t	i;

	for (i = 0; i < LOG_KINDS; i++)
		if (lg.kinds[i].held > 0 &&
		    now - lg.kinds[i].start >= LOG_PERIOD_SECS) {
			kind_flush(&lg.kinds[i]);
			lg.kinds[i].n = 0;
			lg.kinds[i].start = now;
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

	if (prio > lg.level && !lg.tracing)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lg.sess[0] != '\0')
		snprintf(line, sizeof(line), "%s %s: %s%s%s", lg.proc,
		    lg.sess, msg, with_errno ? ": " : "",
		    with_errno ? strerror(saved) : "");
	else
		snprintf(line, sizeof(line), "%s: %s%s%s", lg.proc, msg,
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
