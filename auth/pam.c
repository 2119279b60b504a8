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
 * passwords alike.  PAM runs in a child of the monitor that exits at once:
 * whatever a module leaves in memory (a password in a freed buffer, open
 * files) dies with it and is never inherited by the spool worker, which
 * the monitor forks next.  The child dies with the monitor, so a killed
 * monitor leaves no process holding the password.
 */

#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
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

static int
pam_check(const char *service, const char *user, const char *pass,
    const char *rhost)
{
	struct conv_data	 d = { user, pass };
	struct pam_conv		 pc = { conv, &d };
	pam_handle_t		*ph = NULL;
	int			 rc;

	if ((rc = pam_start(service, user, &pc, &ph)) != PAM_SUCCESS) {
		log_warnx("pam_start(%s): %s", service, pam_strerror(ph, rc));
		return -1;
	}
	(void)pam_set_item(ph, PAM_FAIL_DELAY, (const void *)no_delay);
	(void)pam_set_item(ph, PAM_RHOST, rhost);
	(void)pam_set_item(ph, PAM_RUSER, user);
	rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, PAM_SILENT);
	if (rc != PAM_SUCCESS)
		log_debug("pam(%s) for \"%s\": %s", service, user,
		    pam_strerror(ph, rc));
	pam_end(ph, rc);
	return rc == PAM_SUCCESS ? 0 : -1;
}

int
auth_pam(const char *service, const char *user, const char *pass,
    const char *rhost)
{
	pid_t	pid, parent = getpid();
	int	status;

	if ((pid = fork()) == -1) {
		log_warn("fork for PAM");
		return -1;
	}
	if (pid == 0) {
		log_set_fatal_hook(NULL);
		/* A monitor that died before the request: getppid() tells. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
		    getppid() != parent)
			_exit(1);
		_exit(pam_check(service, user, pass, rhost) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid for PAM");
			return -1;
		}
	if (WIFSIGNALED(status))
		log_warnx("PAM child killed by signal %d", WTERMSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
