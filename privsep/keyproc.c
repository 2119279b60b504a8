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
 * The key process.  Forked by the master (or the inetd-mode process)
 * before anything reads a key file, so no ancestor of a network child ever
 * held a private key.  It reads the certificate and key files as root,
 * sends the certificate chains (public) to the master, then drops to its
 * own user in the empty chroot under its seccomp filter (sandbox_key.c).
 * From then on it only answers signature requests on the per-connection
 * channels the master hands it, under the rules of keysign.c, at most one
 * per connection, tls-sign-rate per second overall and a quarter of that
 * (KEY_SIGN_SOURCE_DIV) per client address.  It trusts the
 * master (root, its parent); it checks every request anyway, since the
 * request's content comes from a network child.
 */

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keyproc.h"
#include "keysign.h"
#include "log.h"
#include "manifest.h"
#include "monitor_master.h"
#include "msg.h"
#include "priv.h"
#include "session.h"

struct bucket {
	double		 tokens;
	struct timespec	 last;
};

/* A client address's share of the signatures. */
struct key_source {
	char		 addr[64];
	struct bucket	 b;
};

struct key_conn {
	int	fd;
	int	signed_once;
	char	session[KEY_SESSION_LEN];
	char	addr[KEY_ADDR_LEN];
};

struct keyproc {
	int		 master_fd;
	size_t		 nkeys;
	EVP_PKEY	*keys[KEY_MAX_KEYS];
	struct key_conn	*conns;
	size_t		 nconns;
	struct bucket	 all;
	double		 rate;		/* tokens per second */
	double		 src_rate;	/* for one client address */
	struct key_source *srcs;
	size_t		 nsrcs;
	struct msg	 m;
};

static struct keyproc	kp;

/* The master's one request: a new session's channel. */
static const struct msg_handler master_requests[] = {
	MSG_ROW(MSG_KEY_REQ_CONN, 4 + 1 + 4 + 1,
	    4 + KEY_SESSION_LEN + 4 + KEY_ADDR_LEN, MSGF_FD, 1, NULL),
};

/* A session monitor's one request: a signature. */
static const struct msg_handler monitor_requests[] = {
	MSG_ROW(MSG_KEY_REQ_SIGN, 1 + 2 + 4, 1 + 2 + 4 + KEY_TBS_MAX, 0, 1,
	    NULL),
};

/*
 * What the master takes from the key process: the chains while it loads
 * (keyproc_recv_certs()), then log lines only (master.c).
 */
static const struct msg_handler key_frames[] = {
	MSG_ROW(MSG_KEY_ANS_CERT, 1 + 4, 1 + 4 + KEY_CERT_CHAIN_MAX, 0,
	    KEY_ST_LOADING, NULL),
	MSG_ROW(MSG_KEY_ANS_READY, 4, 4, 0, KEY_ST_LOADING, NULL),
	MSG_ROW(MSG_KEY_ANS_FAIL, 4 + 1, 4 + KEY_FAIL_LEN, 0, KEY_ST_LOADING,
	    NULL),
	MSG_ROW(MSG_KEY_REQ_LOG, 1 + 4, 1 + 4 + LOG_LINE_MAX, 0,
	    KEY_ST_LOADING | KEY_ST_RUNNING, NULL),
};

/* What the key process takes from the master, for popsepd -P. */
const struct msg_handler *
msgtab_key_master(size_t *n_r)
{
	*n_r = sizeof(master_requests) / sizeof(master_requests[0]);
	return master_requests;
}

/* What the key process takes from a session monitor, for popsepd -P. */
const struct msg_handler *
msgtab_key_monitor(size_t *n_r)
{
	*n_r = sizeof(monitor_requests) / sizeof(monitor_requests[0]);
	return monitor_requests;
}

/* What the master takes from the key process, for both and for -P. */
const struct msg_handler *
msgtab_master_key(size_t *n_r)
{
	*n_r = sizeof(key_frames) / sizeof(key_frames[0]);
	return key_frames;
}

/*
 * The descriptors of the key process: proc_fork_helper()'s keep[] slots
 * (no extra one), then one channel per session from MSG_KEY_REQ_CONN.
 * The key and certificate files are read and closed before the drop.
 */
static const struct proc_fd key_fds[] = {
	[HELPER_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[HELPER_FD_CHANNEL] = { "master-channel", "socket", "start", NULL,
	    NULL },
	[HELPER_FD_EXTRA] = { "none", NULL, "start", NULL, NULL },
	{ "session-channel", "socket", "start", NULL, "session" },
};

/* What the key process holds, for popsepd -P. */
const struct proc_fd *
keyproc_fds(size_t *n_r)
{
	*n_r = sizeof(key_fds) / sizeof(key_fds[0]);
	return key_fds;
}

static void
log_to_master(int prio, const char *line)
{
	struct msg	m;

	msg_init(&m, MSG_KEY_REQ_LOG);
	msg_put_u8(&m, (uint8_t)prio);
	msg_put_data(&m, line, strnlen(line, LOG_LINE_MAX - 1));
	(void)msg_send(kp.master_fd, &m, -1);
}

/* With the master gone there is no one to log to. */
static void
log_discard(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

static void
send_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
send_fail(const char *fmt, ...)
{
	char	buf[KEY_FAIL_LEN];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg_init(&kp.m, MSG_KEY_ANS_FAIL);
	msg_put_str(&kp.m, buf);
	(void)msg_send(kp.master_fd, &kp.m, -1);
	_exit(1);
}

/* A certificate or key path must name a file: say so before OpenSSL. */
static void
check_file(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		send_fail("%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		send_fail("%s: is a directory, not a PEM file", path);
	if (!S_ISREG(st.st_mode))
		send_fail("%s: not a regular file", path);
}

/*
 * OpenSSL asks for a passphrase when a key is encrypted: never prompt
 * (the daemon has no terminal, and a restarted key process could not
 * ask again).  The refusal is noted so the error can say why.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)asked = 1;
	return -1;
}

/* Certificates of one file, re-encoded: only CERTIFICATE blocks leave. */
static void
load_chain(size_t i, const char *path, X509 **leaf_r, struct msg *m)
{
	BIO	*in, *out;
	X509	*x;
	char	*p;
	long	 len;
	int	 n = 0;

	check_file(path);
	if ((in = BIO_new_file(path, "r")) == NULL)
		send_fail("%s: %s", path, strerror(errno));
	if ((out = BIO_new(BIO_s_mem())) == NULL)
		send_fail("out of memory");
	*leaf_r = NULL;
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (PEM_write_bio_X509(out, x) != 1)
			send_fail("out of memory");
		if (n++ == 0)
			*leaf_r = x;
		else
			X509_free(x);
	}
	ERR_clear_error();
	BIO_free(in);
	if (*leaf_r == NULL)
		send_fail("%s: no PEM certificate in it", path);
	len = BIO_get_mem_data(out, &p);
	if (len <= 0 || len > KEY_CERT_CHAIN_MAX)
		send_fail("%s: certificate chain too large", path);
	msg_init(m, MSG_KEY_ANS_CERT);
	msg_put_u8(m, (uint8_t)i);
	msg_put_data(m, p, (size_t)len);
	BIO_free(out);
}

static void
load_key(size_t i, const struct config *cf, struct msg *m)
{
	BIO		*in;
	X509		*leaf;
	EVP_PKEY	*pk;
	const char	*path = cf->key_file[i];
	int		 asked = 0;

	load_chain(i, cf->cert_file[i], &leaf, m);
	check_file(path);
	if ((in = BIO_new_file(path, "r")) == NULL)
		send_fail("%s: %s", path, strerror(errno));
	pk = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, &asked);
	BIO_free(in);
	ERR_clear_error();
	if (pk == NULL && asked)
		send_fail("%s: the private key is encrypted, and popsep reads "
		    "no encrypted keys: remove the passphrase (openssl pkey "
		    "-in KEY -out NEWKEY) and keep the file mode 0600", path);
	if (pk == NULL)
		send_fail("%s: not a PEM private key", path);
	if (!EVP_PKEY_is_a(pk, "RSA") && !EVP_PKEY_is_a(pk, "EC"))
		send_fail("%s: only RSA and EC keys are supported", path);
	if (X509_check_private_key(leaf, pk) != 1)
		send_fail("%s does not match the certificate in %s", path,
		    cf->cert_file[i]);
	X509_free(leaf);
	kp.keys[i] = pk;
}

/*
 * One signature per key before the sandbox: OpenSSL fetches what it
 * needs (and sets up RSA blinding) while it may still open files.
 */
static void
warm_up(void)
{
	static const char	 ctx[] = "TLS 1.3, server CertificateVerify";
	uint8_t			 tbs[64 + sizeof(ctx) + 32], sig[KEY_SIG_MAX];
	const char		*why;
	size_t			 i, len;
	uint16_t		 scheme;

	memset(tbs, 0x20, 64);
	memcpy(tbs + 64, ctx, sizeof(ctx));
	memset(tbs + 64 + sizeof(ctx), 0x5a, 32);
	for (i = 0; i < kp.nkeys; i++) {
		len = sizeof(sig);
		scheme = EVP_PKEY_is_a(kp.keys[i], "RSA") ? 0x0804 :
		    EVP_PKEY_get_bits(kp.keys[i]) > 384 ? 0x0603 :
		    EVP_PKEY_get_bits(kp.keys[i]) > 256 ? 0x0503 : 0x0403;
		if (keysign_sign(kp.keys[i], scheme, tbs, sizeof(tbs), sig,
		    &len, &why) != KEY_SIGN_OK)
			send_fail("key %zu cannot sign: %s", i, why);
	}
}

/* A token bucket of KEY_SIGN_BURST_SECS of rate, at least one token. */
static double
depth(double rate)
{
	return rate * KEY_SIGN_BURST_SECS < 1 ? 1 : rate * KEY_SIGN_BURST_SECS;
}

static void
refill(struct bucket *b, double rate, const struct timespec *now)
{
	double	dt;

	dt = (double)(now->tv_sec - b->last.tv_sec) +
	    (double)(now->tv_nsec - b->last.tv_nsec) / 1e9;
	b->last = *now;
	b->tokens += dt * rate;
	if (b->tokens > depth(rate))
		b->tokens = depth(rate);
}

/*
 * The bucket of one client address: found, or made in the room of the
 * address heard from least recently (a forgotten address starts full,
 * as one that has waited long enough would be).
 */
static struct bucket *
source_bucket(const char *addr, const struct timespec *now)
{
	struct key_source	*s;
	size_t			 i, old = 0;

	for (i = 0; i < kp.nsrcs; i++)
		if (strcmp(kp.srcs[i].addr, addr) == 0)
			return &kp.srcs[i].b;
	if (kp.nsrcs < KEY_SOURCES_MAX)
		old = kp.nsrcs++;
	else
		for (i = 1; i < kp.nsrcs; i++)
			if (kp.srcs[i].b.last.tv_sec <
			    kp.srcs[old].b.last.tv_sec)
				old = i;
	s = &kp.srcs[old];
	strlcpy(s->addr, addr, sizeof(s->addr));
	s->b.tokens = depth(kp.src_rate);
	s->b.last = *now;
	return &s->b;
}

/*
 * The global bucket and the client address's: one address cannot spend
 * the signatures of everyone else.  NULL if both allow, else the reason.
 */
static const char *
rate_check(const char *addr)
{
	struct timespec	 now;
	struct bucket	*b;

	clock_gettime(CLOCK_MONOTONIC, &now);
	refill(&kp.all, kp.rate, &now);
	b = source_bucket(addr, &now);
	refill(b, kp.src_rate, &now);
	if (b->tokens < 1)
		return "signature rate limit reached for this client address";
	if (kp.all.tokens < 1)
		return "signature rate limit reached";
	b->tokens -= 1;
	kp.all.tokens -= 1;
	return NULL;
}

static void
answer(struct key_conn *c, uint32_t status, const uint8_t *sig, size_t len)
{
	struct msg	*m = &kp.m;

	msg_init(m, MSG_KEY_ANS_SIGN);
	msg_put_u32(m, status);
	msg_put_data(m, sig, len);
	if (msg_send(c->fd, m, -1) == -1)
		log_warn("session %s: send", c->session);
}

static void
handle_sign(struct key_conn *c, struct msg *m)
{
	uint8_t		 sig[KEY_SIG_MAX];
	const uint8_t	*tbs;
	const char	*why = NULL;
	size_t		 tbs_len, sig_len = sizeof(sig);
	uint16_t	 scheme;
	uint8_t		 id;
	int		 rc;

	(void)msg_lookup(monitor_requests, sizeof(monitor_requests) /
	    sizeof(monitor_requests[0]), m, 1, c->session);
	id = msg_get_u8(m);
	scheme = msg_get_u16(m);
	tbs = msg_get_data(m, &tbs_len, KEY_TBS_MAX);
	msg_end(m);
	if (c->signed_once)
		why = "second signature request on one connection";
	else if (id >= kp.nkeys)
		why = "no such key";
	else
		why = rate_check(c->addr);
	if (why != NULL) {
		log_warnx("session %s: refused: %s", c->session, why);
		answer(c, KEY_SIGN_REFUSED, NULL, 0);
		return;
	}
	c->signed_once = 1;
	rc = keysign_sign(kp.keys[id], scheme, tbs, tbs_len, sig, &sig_len,
	    &why);
	if (rc != KEY_SIGN_OK) {
		log_warnx("session %s: %s: %s (scheme 0x%04x, %zu bytes)",
		    c->session, rc == KEY_SIGN_REFUSED ? "refused" :
		    "signing failed", why ? why : "OpenSSL error", scheme,
		    tbs_len);
		answer(c, (uint32_t)rc, NULL, 0);
		return;
	}
	log_info("session %s: signed a TLS handshake (key %u, scheme 0x%04x)",
	    c->session, id, scheme);
	answer(c, KEY_SIGN_OK, sig, sig_len);
	explicit_bzero(sig, sizeof(sig));
}

static void
handle_master(struct msg *m)
{
	struct key_conn	*c;

	(void)msg_lookup(master_requests, sizeof(master_requests) /
	    sizeof(master_requests[0]), m, 1, "key<-master");
	if (kp.nconns >= KEY_CONNS_MAX) {
		log_warnx("too many connections");
		close(m->fd);
		m->fd = -1;
		msg_get_str(m, (char[KEY_SESSION_LEN]){ 0 }, KEY_SESSION_LEN);
		msg_get_str(m, (char[KEY_ADDR_LEN]){ 0 }, KEY_ADDR_LEN);
		msg_end(m);
		return;
	}
	c = &kp.conns[kp.nconns++];
	memset(c, 0, sizeof(*c));
	c->fd = m->fd;
	m->fd = -1;
	msg_get_str(m, c->session, sizeof(c->session));
	msg_get_str(m, c->addr, sizeof(c->addr));
	msg_end(m);
}

/*
 * The key process holds one channel per TLS session: raise its descriptor
 * limit (as root, before the drop) to what max-sessions needs.
 */
static void
raise_fd_limit(const struct config *cf)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)cf->max_sessions + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		/* Root may raise the hard limit too, where it is allowed. */
		rl.rlim_cur = rl.rlim_max = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
		log_warnx("the open-file limit %llu is below max-sessions %d; "
		    "TLS handshakes beyond it will fail",
		    (unsigned long long)rl.rlim_max, cf->max_sessions);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit nofile %llu", (unsigned long long)want);
}

static __attribute__((noreturn)) void
keyproc_main(const struct config *cf, int fd)
{
	struct priv_user	 u;
	struct pollfd		*pfd;
	struct msg		 m;
	size_t			 i, n;
	int			 master_open = 1, rc;

	kp.master_fd = fd;
	log_set_sink(log_to_master);
	kp.nkeys = cf->ncerts;
	for (i = 0; i < kp.nkeys; i++) {
		load_key(i, cf, &m);
		if (msg_send(fd, &m, -1) == -1)
			_exit(1);
	}
	if (priv_lookup(cf->key_user, &u) == -1)
		send_fail("key-user \"%s\" does not exist", cf->key_user);
	raise_fd_limit(cf);
	warm_up();
	kp.conns = calloc(KEY_CONNS_MAX, sizeof(*kp.conns));
	kp.srcs = calloc(KEY_SOURCES_MAX, sizeof(*kp.srcs));
	pfd = calloc(KEY_CONNS_MAX + 1, sizeof(*pfd));
	if (kp.conns == NULL || kp.srcs == NULL || pfd == NULL)
		send_fail("out of memory");
	priv_drop(cf->chroot_dir, &u);
	sandbox_key();
	kp.rate = cf->tls_sign_rate;
	/* Never less than one signature per burst period. */
	kp.src_rate = kp.rate / KEY_SIGN_SOURCE_DIV;
	if (kp.src_rate < 1.0 / KEY_SIGN_BURST_SECS)
		kp.src_rate = 1.0 / KEY_SIGN_BURST_SECS;
	kp.all.tokens = depth(kp.rate);
	clock_gettime(CLOCK_MONOTONIC, &kp.all.last);
	msg_init(&m, MSG_KEY_ANS_READY);
	msg_put_u32(&m, (uint32_t)kp.nkeys);
	if (msg_send(fd, &m, -1) == -1)
		_exit(1);

	/* Serve until the master is gone and every session has ended. */
	while (master_open || kp.nconns > 0) {
		n = 0;
		if (master_open) {
			pfd[n].fd = fd;
			pfd[n++].events = POLLIN;
		}
		for (i = 0; i < kp.nconns; i++) {
			pfd[n].fd = kp.conns[i].fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = n; i-- > 0;) {
			if (pfd[i].revents == 0)
				continue;
			if (master_open && i == 0) {
				rc = msg_recv(fd, &kp.m);
				if (rc <= 0) {
					master_open = 0;
					log_set_sink(log_discard);
					continue;
				}
				handle_master(&kp.m);
				continue;
			}
			struct key_conn	*c = &kp.conns[i - master_open];

			rc = msg_recv(c->fd, &kp.m);
			if (rc <= 0) {
				close(c->fd);
				*c = kp.conns[--kp.nconns];
				continue;
			}
			handle_sign(c, &kp.m);
			msg_wipe(&kp.m);
		}
	}
	_exit(0);
}

pid_t
keyproc_spawn(const struct config *cf, int *fd_r)
{
	pid_t	pid;
	int	fd;

	if ((pid = proc_fork_helper("key", -1, &fd)) == 0) {
		keyproc_main(cf, fd);
		/* NOTREACHED */
	}
	*fd_r = fd;
	return pid;
}

/* The master's side: collect every chain until READY; -1 on failure. */
int
keyproc_recv_certs(int fd, struct key_certs *kc)
{
	struct msg	*m;
	const uint8_t	*p;
	char		 why[KEY_FAIL_LEN];
	size_t		 len;
	uint8_t		 id;
	int		 rv = -1;

	memset(kc, 0, sizeof(*kc));
	if ((m = malloc(sizeof(*m))) == NULL)
		fatal("%s", __func__);
	for (;;) {
		if (msg_recv(fd, m) != 1) {
			log_warnx("key process died while loading keys");
			break;
		}
		(void)msg_lookup(key_frames, sizeof(key_frames) /
		    sizeof(key_frames[0]), m, KEY_ST_LOADING, "master<-key");
		if (m->type == MSG_KEY_REQ_LOG) {
			relay_log(m, "key: ");
			continue;
		}
		if (m->type == MSG_KEY_ANS_FAIL) {
			msg_get_str(m, why, sizeof(why));
			msg_end(m);
			log_warnx("TLS key: %s", why);
			break;
		}
		if (m->type == MSG_KEY_ANS_READY) {
			if (msg_get_u32(m) != kc->n)
				fatalx("key process: key count mismatch");
			msg_end(m);
			rv = 0;
			break;
		}
		id = msg_get_u8(m);
		p = msg_get_data(m, &len, KEY_CERT_CHAIN_MAX);
		msg_end(m);
		if (id != kc->n || kc->n >= KEY_MAX_KEYS)
			fatalx("key process: certificate %u out of order", id);
		if ((kc->pem[kc->n] = malloc(len)) == NULL)
			fatal("%s", __func__);
		memcpy(kc->pem[kc->n], p, len);
		kc->len[kc->n++] = len;
	}
	free(m);
	if (rv == -1)
		keyproc_free_certs(kc);
	return rv;
}

void
keyproc_free_certs(struct key_certs *kc)
{
	size_t	i;

	for (i = 0; i < kc->n; i++)
		free(kc->pem[i]);
	memset(kc, 0, sizeof(*kc));
}

/*
 * A channel for one new session from the client address addr: returns
 * the monitor's end, or -1.
 */
int
keyproc_new_conn(int fd, const char *session, const char *addr)
{
	struct msg	m;
	int		sv[2];

	if (msg_socketpair(sv) == -1)
		return -1;
	msg_init(&m, MSG_KEY_REQ_CONN);
	msg_put_str(&m, session);
	msg_put_str(&m, addr);
	if (msg_send(fd, &m, sv[1]) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	return sv[0];
}
