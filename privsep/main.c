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
 * popsepd's entry point, as root: reads the command line and the
 * configuration, checks the users and the chroot directory the sandboxes
 * need, and becomes the master (standalone daemon) or, with -i, serves the
 * one connection inetd handed it.  Never reads a client byte and never
 * parses a private key itself.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "manifest.h"
#include "priv.h"
#include "selfcheck.h"
#include "qpopper.h"
#include "session.h"

#define FLAGS_MAX	64	/* Qpopper flags on one command line */

struct flag_arg {
	int		 ch;
	const char	*arg;
};

/* What the command line said, for SIGHUP's second reading. */
static const char	*conf_file;
static struct flag_arg	 conf_flags[FLAGS_MAX];
static size_t		 conf_nflags;

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: popsepd [-BcCdFiknPRsSuUv] [-b bulldir] "
	    "[-D drac-host] [-e login_delay=N,expire=N]\n"
	    "               [-f config] [-K service] [-l 0-2] [-L lockcheck] "
	    "[-p 0-4]\n"
	    "               [-t tracefile] [-T timeout] [-y facility]\n");
	exit(2);
}

static void
check_users(const struct config *cf)
{
	struct priv_user	u;

	if (priv_lookup(cf->privsep_user, &u) == -1)
		fatalx("privsep-user \"%s\" does not exist (create it with "
		    "useradd -r -M -d /nonexistent -s /usr/sbin/nologin %s)",
		    cf->privsep_user, cf->privsep_user);
	if (u.uid == 0)
		fatalx("privsep-user must not be root");
	if (cf->apop && priv_lookup(cf->popauth_user, &u) == -1)
		fatalx("popauth-user \"%s\" does not exist (apop is set; "
		    "etc/users.sh creates it)", cf->popauth_user);
	if (!cfg_tls_enabled(cf))
		return;
	if (priv_lookup(cf->key_user, &u) == -1)
		fatalx("key-user \"%s\" does not exist (create it with "
		    "useradd -r -M -d /nonexistent -s /usr/sbin/nologin %s)",
		    cf->key_user, cf->key_user);
	if (u.uid == 0)
		fatalx("key-user must not be root");
}

/*
 * A connected TCP socket: what inetd hands its servers.  A local socket
 * is not taken for one (sshd gives a command a socketpair as its stdin).
 */
static int
is_connected_socket(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(int), sl = sizeof(ss);
	int			type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

static int
is_socket(int fd)
{
	struct stat	st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * What start-up needs before it binds or serves, for -n and for a real
 * start alike: the users, the chroot and cache directories, and (as
 * root) a key process that loads every certificate and key and a TLS
 * context built from them.  Each failure exits with its reason.
 */
static void
startup_checks(const struct config *cf, int with_tls)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	check_users(cf);
	if (geteuid() != 0) {
		if (cf->check_only) {
			fprintf(stderr, "popsepd: not run as root: the chroot, "
			    "the certificates and the keys were not "
			    "checked\n");
			return;
		}
		fprintf(stderr, "popsepd: must be started as root\n");
		exit(1);
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1)
		fatalx("OpenSSL initialisation failed");
	/*
	 * SHA-256 fetched once here, so that every spool worker finds it in
	 * memory it shares with the master instead of building its own.
	 */
	if (EVP_Digest("", 0, md, &mdlen, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 unavailable");
	priv_prepare_chroot(cf->chroot_dir);
	priv_prepare_cache_dir(cf->cache_dir);
	selfcheck(cf, conf_file);
	if (with_tls && cfg_tls_enabled(cf))
		master_check_tls(cf);
}

/*
 * SIGHUP: the configuration file read again, with the command line over
 * it as at start-up, into nc; cur gives what only the command line set
 * (-d, -i).  0, or -1 after logging what is wrong.
 */
static int
config_reread(const struct config *cur, struct config *nc)
{
	size_t	i;
	int	bad = 0;

	cfg_defaults(nc);
	nc->debug = cur->debug;
	nc->inetd = cur->inetd;
	if (conf_file != NULL && cfg_parse_file(nc, conf_file) == -1)
		return -1;
	for (i = 0; i < conf_nflags; i++)
		bad |= cfg_flag(nc, conf_flags[i].ch, conf_flags[i].arg) == -1;
	if (bad || cfg_finish(nc) == -1)
		return -1;
	return 0;
}

/* The settings that differ from the defaults, as a configuration. */
static void
dump_settings(const struct config *cf)
{
	cfg_dump(cf, stdout);
	if (fflush(stdout) != 0)
		exit(1);
}

int
main(int argc, char *argv[])
{
	static struct config	 cf, shown;
	struct flag_arg		*flags = conf_flags;
	char			 optstr[64];
	const char		*file = NULL;
	size_t			 nflags = 0, i;
	int			 ch, dump = 0, auto_inetd = 0, bad = 0;
	int			 manifest = 0;

	cfg_defaults(&cf);
	if ((size_t)snprintf(optstr, sizeof(optstr), "df:inPv%s",
	    qp_flag_string()) >= sizeof(optstr))
		bug("%s: getopt string too long", __func__);
	while ((ch = getopt(argc, argv, optstr)) != -1) {
		switch (ch) {
		case 'd':
			cf.debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'i':
			cf.inetd = 1;
			break;
		case 'n':
			cf.check_only = 1;
			break;
		case 'P':
			manifest = 1;
			break;
		case 'v':
			dump = 1;
			break;
		case '?':
			usage();
		default:
			if (nflags >= FLAGS_MAX)
				usage();
			flags[nflags].ch = ch;
			flags[nflags++].arg = optarg;
		}
	}
	if (optind != argc)
		usage();
	conf_file = file;
	conf_nflags = nflags;
	/* inetd starts its servers with the connection as stdin. */
	if (!cf.inetd && !cf.check_only && !manifest &&
	    is_connected_socket(STDIN_FILENO))
		cf.inetd = auto_inetd = 1;
	/*
	 * Under inetd standard error is often the client's socket too: then
	 * nothing is written there (logs go to syslog), -d or not.
	 */
	if (cf.inetd && is_socket(STDERR_FILENO))
		log_console_off();
	if (file != NULL && cfg_parse_file(&cf, file) == -1) {
		log_conf("popsepd: Unable to process configuration file %s",
		    file);
		exit(1);
	}
	/* The command line wins over the file, as in Qpopper. */
	for (i = 0; i < nflags; i++)
		bad |= cfg_flag(&cf, flags[i].ch, flags[i].arg) == -1;
	if (bad)
		exit(2);
	shown = cf;
	cf.verbose |= dump;
	if (cfg_finish(&cf) == -1)
		exit(1);
	/* The privilege manifest: printed, nothing started or checked. */
	if (manifest) {
		manifest_print(&cf, stdout);
		if (fflush(stdout) != 0 || ferror(stdout))
			exit(1);
		exit(0);
	}
	if (cf.check_only) {
		startup_checks(&cf, 1);
		if (dump)
			dump_settings(&shown);
		else
			printf("popsepd: configuration OK\n");
		exit(0);
	}
	log_init(cf.debug, cf.log_facility);
	log_verbose(cf.verbose);
	/* Errors go to stderr too until the daemon detaches. */
	if (!cf.debug && !cf.inetd)
		log_startup(1);
	if (auto_inetd)
		log_info("standard input is a connected socket: serving it as "
		    "with -i");
	if (cf.tracefile[0] != '\0' && log_trace_open(cf.tracefile) == -1)
		fatal("tracefile %s", cf.tracefile);
	startup_checks(&cf, 0);
	netchild_prepare(&cf);
	if (cf.inetd)
		inetd_main(&cf);
	master_set_reread(config_reread);
	master_main(&cf);
}
