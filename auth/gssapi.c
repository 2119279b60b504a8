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
 * SASL GSSAPI (RFC 4752) with Kerberos 5, the server's side, through MIT's
 * GSSAPI library.  The GSSAPI calls run only in the GSSAPI acceptor, a
 * child of the session monitor (root) that lives for one exchange and
 * exits, so the keytab's keys and the security context never reach the
 * monitor or the spool worker it forks later.  The tokens come from the
 * client through the network child: hostile.  Nothing is trusted that
 * the library has not verified: the context must complete with
 * integrity, the client must choose "no security layer" in a message
 * protected by that context, and its authorization identity must be
 * empty or the local user the principal maps to (gss_localname(3): the
 * realm's auth_to_local rules of krb5.conf; by default a principal of the
 * default realm with one component is the user of that name).
 * auth_gss_account(), for the monitor, finds that user's account like any
 * other login's.  The acceptor loads the library when it starts
 * (gss_load(), lib/dlib.c): no other process maps it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include "auth.h"
#include "dlib.h"
#include "log.h"

/* RFC 4752 3.1: the security layer byte. */
#define GSS_LAYER_NONE	0x01

enum gss_state {
	GS_CONTEXT,		/* establishing the security context */
	GS_WAIT_EMPTY,		/* sent the last context token */
	GS_LAYER,		/* sent the security layer offer */
};

struct auth_gss {
	gss_cred_id_t	 cred;
	gss_ctx_id_t	 ctx;
	gss_name_t	 client;
	enum gss_state	 state;
};

/* The library's functions and objects, once gss_load() found them. */
static struct {
	__typeof__(gss_accept_sec_context)	*accept_sec_context;
	__typeof__(gss_acquire_cred)	*acquire_cred;
	__typeof__(gss_delete_sec_context)	*delete_sec_context;
	__typeof__(gss_display_name)	*display_name;
	__typeof__(gss_display_status)	*display_status;
	__typeof__(gss_import_name)	*import_name;
	__typeof__(gss_localname)	*localname;
	__typeof__(gss_release_buffer)	*release_buffer;
	__typeof__(gss_release_cred)	*release_cred;
	__typeof__(gss_release_name)	*release_name;
	__typeof__(gss_unwrap)	*unwrap;
	__typeof__(gss_wrap)	*wrap;
	__typeof__(krb5_gss_register_acceptor_identity) *register_identity;
	gss_OID			*nt_hostbased_service;
	const gss_OID		*mech_krb5;
	const gss_OID_set	*mech_set_krb5;
} gss;

static int	gss_load(void);
static void	gss_log(const char *, OM_uint32, OM_uint32);
static int	give(gss_buffer_t, uint8_t *, size_t, size_t *);
static int	offer_layer(struct auth_gss *, uint8_t *, size_t, size_t *);
static int	take_layer(struct auth_gss *, const uint8_t *, size_t, char *,
		    size_t);
static int	local_user(struct auth_gss *, char *, size_t);

/*
 * The library, loaded by the acceptor before its first call: 0, or -1
 * (logged), after which the exchange fails as with an unusable keytab.
 */
static int
gss_load(void)
{
	static const struct dlib_sym	syms[] = {
		{ "gss_accept_sec_context", (void **)&gss.accept_sec_context },
		{ "gss_acquire_cred", (void **)&gss.acquire_cred },
		{ "gss_delete_sec_context", (void **)&gss.delete_sec_context },
		{ "gss_display_name", (void **)&gss.display_name },
		{ "gss_display_status", (void **)&gss.display_status },
		{ "gss_import_name", (void **)&gss.import_name },
		{ "gss_localname", (void **)&gss.localname },
		{ "gss_release_buffer", (void **)&gss.release_buffer },
		{ "gss_release_cred", (void **)&gss.release_cred },
		{ "gss_release_name", (void **)&gss.release_name },
		{ "gss_unwrap", (void **)&gss.unwrap },
		{ "gss_wrap", (void **)&gss.wrap },
		{ "krb5_gss_register_acceptor_identity",
		    (void **)&gss.register_identity },
		{ "GSS_C_NT_HOSTBASED_SERVICE",
		    (void **)&gss.nt_hostbased_service },
		{ "gss_mech_krb5", (void **)&gss.mech_krb5 },
		{ "gss_mech_set_krb5", (void **)&gss.mech_set_krb5 },
	};

	if (gss.wrap != NULL)
		return 0;
	return dlib_load(DLIB_GSSAPI, syms, sizeof(syms) / sizeof(syms[0]));
}

/* The first line of one kind of status, for the log. */
static void
status_text(OM_uint32 code, int type, char *buf, size_t len)
{
	gss_buffer_desc	msg = GSS_C_EMPTY_BUFFER;
	OM_uint32	minor, more = 0;

	buf[0] = '\0';
	if (GSS_ERROR(gss.display_status(&minor, code, type,
	    type == GSS_C_MECH_CODE ? *gss.mech_krb5 : GSS_C_NO_OID, &more,
	    &msg)))
		return;
	snprintf(buf, len, "%.*s", (int)(msg.length > 200 ? 200 : msg.length),
	    (const char *)msg.value);
	(void)gss.release_buffer(&minor, &msg);
}

static void
gss_log(const char *what, OM_uint32 major, OM_uint32 minor)
{
	char	a[256], b[256];

	status_text(major, GSS_C_GSS_CODE, a, sizeof(a));
	status_text(minor, GSS_C_MECH_CODE, b, sizeof(b));
	log_warnx("GSSAPI %s: %s%s%s", what, a, b[0] != '\0' ? ": " : "", b);
}

/* Copy a token for the client and release it: 0, or -1 if too long. */
static int
give(gss_buffer_t tok, uint8_t *out, size_t outmax, size_t *outlen)
{
	OM_uint32	minor;
	int		rc = -1;

	*outlen = 0;
	if (tok->length <= outmax) {
		if (tok->length > 0)
			memcpy(out, tok->value, tok->length);
		*outlen = tok->length;
		rc = 0;
	} else
		log_warnx("GSSAPI: a token of %zu bytes is too long",
		    tok->length);
	(void)gss.release_buffer(&minor, tok);
	return rc;
}

/*
 * The acceptor of cf's keytab for kerberos-service: a service name with
 * no host, so any "SERVICE/HOST" key of the keytab may be the one a
 * client asked for.  NULL (logged) if there is none to use.
 */
struct auth_gss *
auth_gss_new(const struct config *cf)
{
	struct auth_gss	*g;
	gss_buffer_desc	 buf;
	gss_name_t	 name = GSS_C_NO_NAME;
	OM_uint32	 major, minor;

	if (cf->keytab[0] == '\0' || gss_load() == -1 ||
	    (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->cred = GSS_C_NO_CREDENTIAL;
	g->ctx = GSS_C_NO_CONTEXT;
	g->client = GSS_C_NO_NAME;
	major = gss.register_identity(cf->keytab);
	if (GSS_ERROR(major)) {
		log_warnx("GSSAPI: cannot use the keytab %s", cf->keytab);
		free(g);
		return NULL;
	}
	buf.value = (void *)(uintptr_t)cf->kerberos_service;
	buf.length = strlen(cf->kerberos_service);
	major = gss.import_name(&minor, &buf, *gss.nt_hostbased_service,
	    &name);
	if (!GSS_ERROR(major))
		major = gss.acquire_cred(&minor, name, GSS_C_INDEFINITE,
		    *gss.mech_set_krb5, GSS_C_ACCEPT, &g->cred, NULL, NULL);
	if (name != GSS_C_NO_NAME)
		(void)gss.release_name(&minor, &name);
	if (GSS_ERROR(major)) {
		gss_log("acceptor credentials", major, minor);
		free(g);
		return NULL;
	}
	return g;
}

void
auth_gss_free(struct auth_gss *g)
{
	OM_uint32	minor;

	if (g == NULL)
		return;
	if (g->ctx != GSS_C_NO_CONTEXT)
		(void)gss.delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
	if (g->client != GSS_C_NO_NAME)
		(void)gss.release_name(&minor, &g->client);
	if (g->cred != GSS_C_NO_CREDENTIAL)
		(void)gss.release_cred(&minor, &g->cred);
	explicit_bzero(g, sizeof(*g));
	free(g);
}

/* One context token from the client. */
static int
context_step(struct auth_gss *g, const uint8_t *in, size_t inlen,
    uint8_t *out, size_t outmax, size_t *outlen)
{
	gss_buffer_desc	itok, otok = GSS_C_EMPTY_BUFFER;
	OM_uint32	major, minor, flags = 0;
	gss_OID		mech = GSS_C_NO_OID, krb5 = *gss.mech_krb5;

	itok.value = (void *)(uintptr_t)in;
	itok.length = inlen;
	major = gss.accept_sec_context(&minor, &g->ctx, g->cred, &itok,
	    GSS_C_NO_CHANNEL_BINDINGS, &g->client, &mech, &otok, &flags,
	    NULL, NULL);
	if (GSS_ERROR(major)) {
		gss_log("accept_sec_context", major, minor);
		(void)gss.release_buffer(&minor, &otok);
		return GSS_STEP_FAIL;
	}
	if (give(&otok, out, outmax, outlen) == -1)
		return GSS_STEP_FAIL;
	if (major & GSS_S_CONTINUE_NEEDED)
		return *outlen > 0 ? GSS_STEP_CONTINUE : GSS_STEP_FAIL;
	/* The security layer message needs integrity. */
	if ((flags & GSS_C_INTEG_FLAG) == 0 || mech == GSS_C_NO_OID ||
	    mech->length != krb5->length ||
	    memcmp(mech->elements, krb5->elements, mech->length) != 0) {
		log_warnx("GSSAPI: context without integrity or not "
		    "Kerberos 5");
		return GSS_STEP_FAIL;
	}
	/* A last token (mutual authentication): the client answers empty. */
	if (*outlen > 0) {
		g->state = GS_WAIT_EMPTY;
		return GSS_STEP_CONTINUE;
	}
	return offer_layer(g, out, outmax, outlen);
}

/* RFC 4752 3.1: no security layer, no buffer size, integrity protected. */
static int
offer_layer(struct auth_gss *g, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	static const uint8_t	offer[4] = { GSS_LAYER_NONE, 0, 0, 0 };
	gss_buffer_desc		in, tok = GSS_C_EMPTY_BUFFER;
	OM_uint32		major, minor;

	in.value = (void *)(uintptr_t)offer;
	in.length = sizeof(offer);
	major = gss.wrap(&minor, g->ctx, 0, GSS_C_QOP_DEFAULT, &in, NULL,
	    &tok);
	if (GSS_ERROR(major)) {
		gss_log("wrap", major, minor);
		return GSS_STEP_FAIL;
	}
	if (give(&tok, out, outmax, outlen) == -1)
		return GSS_STEP_FAIL;
	g->state = GS_LAYER;
	return GSS_STEP_CONTINUE;
}

/* The local user of the client's principal, a name popsep accepts. */
static int
local_user(struct auth_gss *g, char *user, size_t userlen)
{
	gss_buffer_desc	lname = GSS_C_EMPTY_BUFFER, pname = GSS_C_EMPTY_BUFFER;
	OM_uint32	major, minor;
	int		rc = -1;

	major = gss.localname(&minor, g->client, GSS_C_NO_OID, &lname);
	if (GSS_ERROR(gss.display_name(&minor, g->client, &pname, NULL)))
		pname.length = 0;
	if (GSS_ERROR(major))
		log_warnx("GSSAPI: principal \"%.*s\" maps to no local user",
		    (int)(pname.length > 256 ? 256 : pname.length),
		    pname.length > 0 ? (const char *)pname.value : "");
	else if (lname.length == 0 || lname.length >= userlen ||
	    lname.length > POP_USER_MAX ||
	    memchr(lname.value, '\0', lname.length) != NULL)
		log_warnx("GSSAPI: the local name of a principal is not a "
		    "user name");
	else {
		memcpy(user, lname.value, lname.length);
		user[lname.length] = '\0';
		log_info("GSSAPI: principal \"%.*s\" is local user \"%s\"",
		    (int)(pname.length > 256 ? 256 : pname.length),
		    pname.length > 0 ? (const char *)pname.value : "", user);
		rc = 0;
	}
	(void)gss.release_buffer(&minor, &lname);
	(void)gss.release_buffer(&minor, &pname);
	return rc;
}

/*
 * The client's choice, protected by the context: "no security layer"
 * (the only one offered), then an authorization identity that is empty
 * or the user it authenticated as.
 */
static int
take_layer(struct auth_gss *g, const uint8_t *in, size_t inlen, char *user,
    size_t userlen)
{
	gss_buffer_desc	itok, msg = GSS_C_EMPTY_BUFFER;
	OM_uint32	major, minor;
	const uint8_t	*p;
	size_t		 zlen;
	int		 rc = GSS_STEP_FAIL;

	itok.value = (void *)(uintptr_t)in;
	itok.length = inlen;
	major = gss.unwrap(&minor, g->ctx, &itok, &msg, NULL, NULL);
	if (GSS_ERROR(major)) {
		gss_log("unwrap", major, minor);
		return GSS_STEP_FAIL;
	}
	p = msg.value;
	if (msg.length < 4 || p[0] != GSS_LAYER_NONE)
		log_warnx("GSSAPI: the client chose a security layer that was "
		    "not offered");
	else if (local_user(g, user, userlen) == 0) {
		zlen = msg.length - 4;
		if (zlen == 0 || (zlen == strlen(user) &&
		    memcmp(p + 4, user, zlen) == 0))
			rc = GSS_STEP_DONE;
		else
			log_warnx("GSSAPI: \"%s\" may not act for another "
			    "authorization identity", user);
	}
	(void)gss.release_buffer(&minor, &msg);
	return rc;
}

/*
 * One client token: GSS_STEP_CONTINUE with a token for the client in
 * out, GSS_STEP_DONE with the local user name in user, or GSS_STEP_FAIL
 * (logged), after which the exchange is over.
 */
int
auth_gss_step(struct auth_gss *g, const uint8_t *in, size_t inlen,
    uint8_t *out, size_t outmax, size_t *outlen, char *user, size_t userlen)
{
	*outlen = 0;
	user[0] = '\0';
	switch (g->state) {
	case GS_CONTEXT:
		return context_step(g, in, inlen, out, outmax, outlen);
	case GS_WAIT_EMPTY:
		if (inlen != 0) {
			log_warnx("GSSAPI: the client answered the last "
			    "context token with data");
			return GSS_STEP_FAIL;
		}
		return offer_layer(g, out, outmax, outlen);
	default:
		return take_layer(g, in, inlen, user, userlen);
	}
}

/*
 * In the monitor: the account of a user the acceptor proved, found as
 * for APOP (passwd-file, else a system user whose PAM account rules
 * apply), after auth-file and nonauth-file.  An enum auth_status.
 */
int
auth_gss_account(const struct config *cf, const char *user,
    const char *rhost, struct auth_result *res)
{
	int	rc;

	memset(res, 0, sizeof(*res));
	if (!auth_allowed(cf, user))
		return AUTH_FAIL;
	if ((rc = auth_lookup(cf, user, rhost, res)) == AUTH_OK)
		strlcpy(res->how, "gssapi", sizeof(res->how));
	return rc;
}
