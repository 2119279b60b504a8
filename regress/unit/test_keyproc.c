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
 * The key process, really started: forked by keyproc_spawn() as root, it
 * loads an RSA and an EC key, drops to key-user in an empty chroot under
 * its seccomp filter, and answers signature requests on per-connection
 * channels.  Checks that it signs exactly one valid TLS handshake shape
 * per connection, refuses everything else, and logs each refusal with the
 * session id.  Needs root and the user _popsepkey (etc/users.sh).
 */

#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "config.h"
#include "keyproc.h"
#include "msg.h"
#include "test.h"
#include "tls_keyless.h"

static char	dir[] = "/tmp/popsep-keyproc.XXXXXX";

static EVP_PKEY *
write_pair(const char *name, const char *alg, const char *arg,
    char *cert_path, char *key_path, size_t len)
{
	EVP_PKEY	*pk;
	X509		*x;
	FILE		*fp;

	if (strcmp(alg, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, pk, EVP_sha256());
	snprintf(cert_path, len, "%s/%s-cert.pem", dir, name);
	snprintf(key_path, len, "%s/%s-key.pem", dir, name);
	fp = fopen(cert_path, "w");
	PEM_write_X509(fp, x);
	fclose(fp);
	fp = fopen(key_path, "w");
	PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	chmod(key_path, 0600);
	X509_free(x);
	return pk;
}

static size_t
tls13_tbs(uint8_t *tbs, const char *ctx, size_t hashlen)
{
	size_t	n = strlen(ctx) + 1;

	memset(tbs, 0x20, 64);
	memcpy(tbs + 64, ctx, n);
	memset(tbs + 64 + n, 0xa5, hashlen);
	return 64 + n + hashlen;
}

static size_t
tls12_tbs(uint8_t *tbs)
{
	memset(tbs, 0x11, 64);
	tbs[64] = 3;		/* named_curve */
	tbs[65] = 0x00;
	tbs[66] = 0x1d;		/* x25519 */
	tbs[67] = 32;
	memset(tbs + 68, 0x42, 32);
	return 100;
}

/* Send one request on conn; return the status, the signature in sig. */
static int
sign_req(int conn, uint8_t id, uint16_t scheme, const uint8_t *tbs,
    size_t len, uint8_t *sig, size_t *siglen)
{
	struct msg	*m = calloc(1, sizeof(*m));
	const uint8_t	*p;
	int		 status;

	msg_init(m, MSG_KEY_REQ_SIGN);
	msg_put_u8(m, id);
	msg_put_u16(m, scheme);
	msg_put_data(m, tbs, len);
	if (msg_send(conn, m, -1) == -1 || msg_recv(conn, m) != 1) {
		free(m);
		return -1;
	}
	status = (int)msg_get_u32(m);
	p = msg_get_data(m, siglen, KEY_SIG_MAX);
	memcpy(sig, p, *siglen);
	free(m);
	return status;
}

static int
verify(EVP_PKEY *pk, uint16_t scheme, const uint8_t *tbs, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	EVP_PKEY_CTX	*pctx;
	int		 ok;

	EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pk);
	if (scheme == TLS_SIG_RSA_PSS_RSAE_SHA256) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
	}
	ok = EVP_DigestVerify(md, sig, siglen, tbs, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* Collect the key process's log frames for up to 200 ms. */
static int
log_has(int master, const char *needle)
{
	struct msg	*m = calloc(1, sizeof(*m));
	char		 buf[LOG_LINE_MAX + 1];
	const uint8_t	*p;
	size_t		 n;
	int		 found = 0;
	fd_set		 rfds;
	struct timeval	 tv = { 0, 200000 };

	for (;;) {
		FD_ZERO(&rfds);
		FD_SET(master, &rfds);
		if (select(master + 1, &rfds, NULL, NULL, &tv) <= 0)
			break;
		if (msg_recv(master, m) != 1)
			break;
		if (m->type != MSG_KEY_REQ_LOG)
			continue;
		(void)msg_get_u8(m);
		p = msg_get_data(m, &n, LOG_LINE_MAX);
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL)
			found = 1;
	}
	free(m);
	return found;
}

int
main(void)
{
	static struct config	 cf;
	EVP_PKEY		*rsa, *ec;
	struct key_certs	 kc;
	uint8_t			 tbs[600], sig[KEY_SIG_MAX];
	size_t			 len, siglen;
	char			 chroot_dir[256];
	int			 master, c1, c2, st;
	pid_t			 pid;

	if (geteuid() != 0 || getpwnam("_popsepkey") == NULL) {
		printf("SKIP keyproc (needs root and the user _popsepkey)\n");
		return 0;
	}
	if (mkdtemp(dir) == NULL)
		return 1;
	cfg_defaults(&cf);
	rsa = write_pair("rsa", "RSA", NULL, cf.cert_file[0], cf.key_file[0],
	    CFG_PATH_MAX);
	ec = write_pair("ec", "EC", "P-256", cf.cert_file[1], cf.key_file[1],
	    CFG_PATH_MAX);
	cf.ncerts = 2;
	snprintf(chroot_dir, sizeof(chroot_dir), "%s/empty", dir);
	mkdir(chroot_dir, 0755);
	strlcpy(cf.chroot_dir, chroot_dir, sizeof(cf.chroot_dir));

	pid = keyproc_spawn(&cf, &master);
	CHECK(keyproc_recv_certs(master, &kc) == 0, "key process loads an RSA "
	    "and an EC key and sends the chains");
	CHECK(kc.n == 2 && memmem(kc.pem[0], kc.len[0], "BEGIN CERTIFICATE",
	    17) != NULL && memmem(kc.pem[0], kc.len[0], "PRIVATE", 7) == NULL &&
	    memmem(kc.pem[1], kc.len[1], "PRIVATE", 7) == NULL,
	    "only certificates leave the key process");

	c1 = keyproc_new_conn(master, "sess00000000aaaa", "192.0.2.1");
	len = tls13_tbs(tbs, "TLS 1.3, server CertificateVerify", 32);
	siglen = 0;
	st = sign_req(c1, 0, TLS_SIG_RSA_PSS_RSAE_SHA256, tbs, len, sig,
	    &siglen);
	CHECK(st == KEY_SIGN_OK && siglen == 256, "TLS 1.3 RSA-PSS signed");
	CHECK(st == KEY_SIGN_OK && verify(rsa, TLS_SIG_RSA_PSS_RSAE_SHA256,
	    tbs, len, sig, siglen), "the RSA-PSS signature verifies");
	st = sign_req(c1, 0, TLS_SIG_RSA_PSS_RSAE_SHA256, tbs, len, sig,
	    &siglen);
	CHECK(st == KEY_SIGN_REFUSED && siglen == 0,
	    "second signature on one connection refused");
	CHECK(log_has(master, "sess00000000aaaa: refused: second"),
	    "refusal logged with the session id");

	c2 = keyproc_new_conn(master, "sess00000000bbbb", "192.0.2.1");
	st = sign_req(c2, 1, TLS_SIG_ECDSA_SHA256, tbs, len, sig, &siglen);
	CHECK(st == KEY_SIGN_OK && verify(ec, TLS_SIG_ECDSA_SHA256, tbs, len,
	    sig, siglen), "TLS 1.3 ECDSA P-256 signed and verifies");
	close(c2);

	struct {
		const char	*name;
		uint8_t		 id;
		uint16_t	 scheme;
		int		 shape;	/* 13, 12, 0 = junk, 1 = client ctx */
	} bad[] = {
		{ "PKCS#1 v1.5 in a TLS 1.3 shape", 0, TLS_SIG_RSA_PKCS1_SHA256,
		    13 },
		{ "SHA-1 (rsa_pkcs1_sha1)", 0, 0x0201, 12 },
		{ "SHA-1 (ecdsa_sha1)", 1, 0x0203, 12 },
		{ "a wrong-shaped block", 0, TLS_SIG_RSA_PSS_RSAE_SHA256, 0 },
		{ "the client CertificateVerify context", 0,
		    TLS_SIG_RSA_PSS_RSAE_SHA256, 1 },
		{ "ECDSA with the RSA key", 0, TLS_SIG_ECDSA_SHA256, 13 },
		{ "PSS with the EC key", 1, TLS_SIG_RSA_PSS_RSAE_SHA256, 13 },
		{ "a key id that does not exist", 7,
		    TLS_SIG_RSA_PSS_RSAE_SHA256, 13 },
	};
	int	npolicy = 1, nsign = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char	sess[17];

		snprintf(sess, sizeof(sess), "sessbad%09zu", i);
		c2 = keyproc_new_conn(master, sess, "192.0.2.1");
		if (bad[i].shape == 13)
			len = tls13_tbs(tbs, "TLS 1.3, server "
			    "CertificateVerify", 32);
		else if (bad[i].shape == 12)
			len = tls12_tbs(tbs);
		else if (bad[i].shape == 1)
			len = tls13_tbs(tbs, "TLS 1.3, client "
			    "CertificateVerify", 32);
		else {
			memset(tbs, 0x33, 200);
			len = 200;
		}
		st = sign_req(c2, bad[i].id, bad[i].scheme, tbs, len, sig,
		    &siglen);
		CHECK(st == KEY_SIGN_REFUSED && siglen == 0, "refused: %s",
		    bad[i].name);
		/*
		 * The log's limit: LOG_BURST lines per kind (format).  One
		 * refusal of the policy's kind came before these; a key id
		 * that does not exist is of that kind, the rest of the
		 * signing checks'.
		 */
		if (++*(bad[i].id == 7 ? &npolicy : &nsign) <= LOG_BURST)
			CHECK(log_has(master, sess), "refusal of %s logged "
			    "with the session id", bad[i].name);
		else
			CHECK(!log_has(master, sess), "refusal of %s held "
			    "back: more than LOG_BURST lines of one kind",
			    bad[i].name);
		close(c2);
	}

	c2 = keyproc_new_conn(master, "sess00000000cccc", "192.0.2.1");
	len = tls12_tbs(tbs);
	st = sign_req(c2, 0, TLS_SIG_RSA_PKCS1_SHA256, tbs, len, sig, &siglen);
	CHECK(st == KEY_SIGN_OK && siglen == 256,
	    "PKCS#1 v1.5 in the TLS 1.2 ECDHE shape signed");
	close(c2);

	/* The key process ends when the master and every session are gone. */
	close(c1);
	close(master);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "key process exits cleanly after the master "
	    "and its sessions close (not killed by its sandbox)");
	keyproc_free_certs(&kc);

	/*
	 * 4 signatures a second overall, a bucket of 8; one client
	 * address gets a quarter: 1 a second, a bucket of 2.
	 */
	cf.tls_sign_rate = 4;
	pid = keyproc_spawn(&cf, &master);
	CHECK(keyproc_recv_certs(master, &kc) == 0, "a key process with "
	    "tls-sign-rate 4 starts");
	len = tls13_tbs(tbs, "TLS 1.3, server CertificateVerify", 32);
	for (int i = 0; i < 4; i++) {
		char	sess[17];

		snprintf(sess, sizeof(sess), "sessrate%08d", i);
		c2 = keyproc_new_conn(master, sess, "192.0.2.7");
		st = sign_req(c2, 0, TLS_SIG_RSA_PSS_RSAE_SHA256, tbs, len, sig,
		    &siglen);
		CHECK(st == (i < 2 ? KEY_SIGN_OK : KEY_SIGN_REFUSED),
		    "one address, signature %d: %s", i, i < 2 ? "signed" :
		    "refused, beyond its share");
		close(c2);
	}
	CHECK(log_has(master, "signature rate limit reached for this client "
	    "address"), "the refusal names the client address's share");
	c2 = keyproc_new_conn(master, "sessrateother000", "192.0.2.8");
	st = sign_req(c2, 0, TLS_SIG_RSA_PSS_RSAE_SHA256, tbs, len, sig,
	    &siglen);
	CHECK(st == KEY_SIGN_OK, "another address is signed for meanwhile");
	close(c2);
	close(master);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "the second key process exits cleanly");
	keyproc_free_certs(&kc);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("SKIP cleanup of %s\n", dir);
	}
	TEST_EXIT();
}
