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

void
log_procname(const char *name)
{
	log_proc = name;
}

void
log_session(const char *id)
{
	strlcpy(log_sess, id, sizeof(log_sess));
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
	log_emit(prio, line);
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
