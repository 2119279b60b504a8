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
#include "priv.h"
#include "session.h"

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: popsepd [-dFinRSsv] [-b bulldir] [-f config] "
	    "[-L lockcheck]\n               [-T timeout]\n");
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
	if (!cfg_tls_enabled(cf))
		return;
	if (priv_lookup(cf->key_user, &u) == -1)
		fatalx("key-user \"%s\" does not exist (create it with "
		    "useradd -r -M -d /nonexistent -s /usr/sbin/nologin %s)",
		    cf->key_user, cf->key_user);
	if (u.uid == 0)
		fatalx("key-user must not be root");
}

int
main(int argc, char *argv[])
{
	static struct config	 cf;
	const char		*e, *file = NULL, *bulldir = NULL;
	long long		 timeout = -1;
	long long		 lockcheck = -1;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	int			 ch, stats = 0, norev = 0, fast = 0, srvmode = 0;

	cfg_defaults(&cf);
	while ((ch = getopt(argc, argv, "b:dFif:L:nsRST:v")) != -1) {
		switch (ch) {
		case 'd':
			cf.debug = 1;
			break;
		case 'b':
			bulldir = optarg;
			break;
		case 'F':
			fast = 1;
			break;
		case 'i':
			cf.inetd = 1;
			break;
		case 'L':
			lockcheck = strtonum(optarg, 1, 1000000, &e);
			if (e != NULL) {
				fprintf(stderr, "popsepd: -L %s: %s\n", optarg,
				    e);
				exit(2);
			}
			break;
		case 'S':
			srvmode = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			cf.check_only = 1;
			break;
		case 's':
			stats = 1;
			break;
		case 'R':
			norev = 1;
			break;
		case 'T':
			timeout = strtonum(optarg, 10, 86400, &e);
			if (e != NULL) {
				fprintf(stderr, "popsepd: -T %s: %s\n", optarg,
				    e);
				exit(2);
			}
			break;
		case 'v':
			cf.verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (file != NULL && cfg_parse_file(&cf, file) == -1) {
		fprintf(stderr, "popsepd: Unable to process configuration "
		    "file %s\n", file);
		exit(1);
	}
	/* The command line wins over the file, as in Qpopper. */
	if (stats)
		cf.statistics = 1;
	if (norev)
		cf.reverse_lookups = 0;
	if (timeout != -1)
		cf.timeout = (int)timeout;
	if (fast)
		cf.fast_update = 1;
	if (bulldir != NULL && strlcpy(cf.bulldir, bulldir,
	    sizeof(cf.bulldir)) >= sizeof(cf.bulldir)) {
		fprintf(stderr, "popsepd: -b: path too long\n");
		exit(2);
	}
	if (srvmode)
		cf.server_mode = 1;
	if (lockcheck != -1)
		cf.mail_lock_check = (int)lockcheck;
	if (cfg_finish(&cf) == -1)
		exit(1);
	if (cf.check_only) {
		printf("popsepd: configuration OK\n");
		exit(0);
	}
	if (geteuid() != 0) {
		fprintf(stderr, "popsepd: must be started as root\n");
		exit(1);
	}
	log_init(cf.debug, cf.log_facility);
	log_verbose(cf.verbose);
	if (cf.tracefile[0] != '\0' && log_trace_open(cf.tracefile) == -1) {
		fprintf(stderr, "popsepd: tracefile %s: %s\n", cf.tracefile,
		    strerror(errno));
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
	priv_prepare_chroot(cf.chroot_dir);
	priv_prepare_cache_dir(cf.cache_dir);
	check_users(&cf);
	if (cf.inetd)
		inetd_main(&cf);
	master_main(&cf);
}
