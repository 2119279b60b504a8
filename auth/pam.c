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
 * PAM conversation for the session monitor (root).  The only answers it
 * gives PAM are the user name and the password the client sent; it wipes
 * its copies.  pam_unix's own failure delay is replaced by the monitor's
 * fixed delay (auth-fail-delay), which treats unknown users and wrong
 * passwords alike.  PAM runs in a child of the monitor that exits at once
 * (auth_child): whatever a module leaves in memory (a password in a freed
 * buffer, open files) dies with it and is never inherited by the spool
 * worker, which the monitor forks next.  pam_acct_mgmt is honoured: an
 * expired or locked account is refused, and so is a login whose PAM_USER
 * a module changed.  The child dies with the monitor, so a killed monitor
 * leaves no process holding the password.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "auth.h"
#include "log.h"

struct conv_data {
	const char	*user;
	const char	*pass;
};

static int	conv(int, const struct pam_message **, struct pam_response **,
		    void *);
static void	no_delay(int, unsigned int, void *);

static int
conv(int n, const struct pam_message **msgs, struct pam_response **resp_r,
    void *arg)
{
	struct conv_data	*d = arg;
	struct pam_response	*resp;
	int			 i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((resp = calloc((size_t)n, sizeof(*resp))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msgs[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			resp[i].resp = strdup(d->pass);
			break;
		case PAM_PROMPT_ECHO_ON:
			resp[i].resp = strdup(d->user);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;
		default:
			goto fail;
		}
		if (resp[i].resp == NULL)
			goto fail;
	}
	*resp_r = resp;
	return PAM_SUCCESS;
 fail:
	for (i = 0; i < n; i++)
		if (resp[i].resp != NULL)
			freezero(resp[i].resp, strlen(resp[i].resp));
	free(resp);
	return PAM_CONV_ERR;
}

static void
no_delay(int status, unsigned int usec, void *arg)
{
	(void)status;
	(void)usec;
	(void)arg;
}

/* What pam_acct_mgmt's refusal means for the client. */
static int
acct_status(int rc)
{
	switch (rc) {
	case PAM_SUCCESS:
		return AUTH_OK;
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		return AUTH_EXPIRED;
	case PAM_ACCT_EXPIRED:
	case PAM_PERM_DENIED:
		return AUTH_DISABLED;
	default:
		return AUTH_FAIL;
	}
}

/*
 * The mailbox is that of the name the client gave.  A module that changed
 * PAM_USER (a mapping module, a case-folding one) would have the monitor
 * serve another user's mailbox than the one that was checked; such a
 * login is refused rather than followed.
 */
static int
same_user(pam_handle_t *ph, const char *user)
{
	const void	*item = NULL;

	if (pam_get_item(ph, PAM_USER, &item) != PAM_SUCCESS || item == NULL)
		return 0;
	if (strcmp(item, user) == 0)
		return 1;
	log_warnx("PAM changed the user name \"%s\" to \"%.64s\"; refusing "
	    "the login (popsep serves the mailbox of the name given)", user,
	    (const char *)item);
	return 0;
}

/* pass NULL: the credentials were proven elsewhere (APOP); account only. */
static int
pam_check(const char *service, const char *user, const char *pass,
    const char *rhost)
{
	struct conv_data	 d = { user, pass != NULL ? pass : "" };
	struct pam_conv		 pc = { conv, &d };
	pam_handle_t		*ph = NULL;
	int			 rc, st = AUTH_FAIL;

	if ((rc = pam_start(service, user, &pc, &ph)) != PAM_SUCCESS) {
		log_warnx("pam_start(%s): %s", service, pam_strerror(ph, rc));
		return AUTH_FAIL;
	}
	(void)pam_set_item(ph, PAM_FAIL_DELAY, (const void *)no_delay);
	(void)pam_set_item(ph, PAM_RHOST, rhost);
	(void)pam_set_item(ph, PAM_RUSER, user);
	rc = PAM_SUCCESS;
	if (pass != NULL)
		rc = pam_authenticate(ph, PAM_SILENT |
		    PAM_DISALLOW_NULL_AUTHTOK);
	if (rc != PAM_SUCCESS)
		log_debug("pam(%s) for \"%s\": %s", service, user,
		    pam_strerror(ph, rc));
	else if (same_user(ph, user)) {
		rc = pam_acct_mgmt(ph, PAM_SILENT);
		st = acct_status(rc);
		if (rc != PAM_SUCCESS)
			log_info("pam(%s) account \"%s\": %s", service, user,
			    pam_strerror(ph, rc));
		else if (!same_user(ph, user))
			st = AUTH_FAIL;
	}
	pam_end(ph, rc);
	return st;
}

struct pam_args {
	const char	*service, *user, *pass, *rhost;
};

static int
pam_in_child(void *arg, struct auth_result *unused)
{
	struct pam_args	*a = arg;

	(void)unused;
	return pam_check(a->service, a->user, a->pass, a->rhost);
}

/* An enum auth_status. */
int
auth_pam(const char *service, const char *user, const char *pass,
    const char *rhost)
{
	struct pam_args	a = { service, user, pass, rhost };
	int		st;

	st = auth_child(pam_in_child, &a, NULL);
	return st < 0 || st > AUTH_DISABLED ? AUTH_FAIL : st;
}
