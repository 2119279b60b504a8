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
 * The session's end-of-session line, made by the session monitor (root)
 * when the session ends, however it ends: one line at level info in
 * key=value form, and with session-json one JSON object, to syslog or
 * appended to a file.  The values come from the monitor itself (user,
 * mechanism, addresses, lock wait, update time, why it ended), from the
 * spool worker's last frame (counts and bytes) and from the network child
 * (the TLS version and cipher): those two may lie about their own
 * figures, so every string from them was made printable when it arrived,
 * and is escaped here.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "session.h"
#include "sesslog.h"

/* s with '"' and '\\' escaped for JSON; out is cut, never overrun. */
static void
json_str(const char *s, char *out, size_t len)
{
	size_t	o = 0;

	for (; *s != '\0' && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	out[o] = '\0';
}

static void
text_line(const struct sesslog *l, char *buf, size_t len)
{
	snprintf(buf, len, "Disconnected: %s user=<%s> mech=%s rip=%s "
	    "pip=%s tls=%s%s%s retr=%u/%llu top=%u/%llu dele=%u/%llu "
	    "left=%u/%llu lock_wait=%llums update=%llums", l->reason,
	    l->user[0] != '\0' ? l->user : "", l->mech[0] != '\0' ?
	    l->mech : "none", l->rip, l->pip[0] != '\0' ? l->pip : "none",
	    l->tls_version[0] != '\0' ?
	    l->tls_version : "none", l->tls_version[0] != '\0' ? "/" : "",
	    l->tls_cipher, l->retr_n, (unsigned long long)l->retr_bytes,
	    l->top_n, (unsigned long long)l->top_bytes, l->del_n,
	    (unsigned long long)l->del_bytes, l->left_n,
	    (unsigned long long)l->left_bytes,
	    (unsigned long long)l->lock_wait_ms,
	    (unsigned long long)l->update_ms);
}

static void
json_line(const struct sesslog *l, const char *id, char *buf, size_t len)
{
	char	user[2 * POP_USER_MAX + 4], ver[2 * TLS_NAME_MAX + 4];
	char	ciph[2 * TLS_NAME_MAX + 4], rip[160], pip[160];

	json_str(l->user, user, sizeof(user));
	json_str(l->tls_version, ver, sizeof(ver));
	json_str(l->tls_cipher, ciph, sizeof(ciph));
	json_str(l->rip, rip, sizeof(rip));
	json_str(l->pip, pip, sizeof(pip));
	snprintf(buf, len, "{\"event\":\"session_end\",\"session\":\"%s\","
	    "\"reason\":\"%s\",\"user\":\"%s\",\"mech\":\"%s\","
	    "\"rip\":\"%s\",\"pip\":\"%s\",\"tls_version\":\"%s\","
	    "\"tls_cipher\":\"%s\","
	    "\"retr\":%u,\"retr_bytes\":%llu,\"top\":%u,\"top_bytes\":%llu,"
	    "\"dele\":%u,\"dele_bytes\":%llu,\"left\":%u,\"left_bytes\":%llu,"
	    "\"lock_wait_ms\":%llu,\"update_ms\":%llu}", id, l->reason, user,
	    l->mech, rip, pip, ver, ciph, l->retr_n,
	    (unsigned long long)l->retr_bytes, l->top_n,
	    (unsigned long long)l->top_bytes, l->del_n,
	    (unsigned long long)l->del_bytes, l->left_n,
	    (unsigned long long)l->left_bytes,
	    (unsigned long long)l->lock_wait_ms,
	    (unsigned long long)l->update_ms);
}

/* session-json as a file: one line appended, never through a link. */
static void
append_json(const char *path, const char *line)
{
	char	buf[SESSLOG_LINE_MAX + 2];
	size_t	n;
	int	fd;

	n = strlcpy(buf, line, sizeof(buf) - 1);
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("session-json %s", path);
		return;
	}
	if (write(fd, buf, n) != (ssize_t)n)
		log_warn("session-json %s", path);
	close(fd);
}

void
sesslog_emit(const struct config *cf, const char *id, const struct sesslog *l)
{
	char	line[SESSLOG_LINE_MAX];

	text_line(l, line, sizeof(line));
	log_info("%s", line);
	if (cf->session_json[0] == '\0')
		return;
	json_line(l, id, line, sizeof(line));
	if (strcmp(cf->session_json, "syslog") == 0)
		log_info("%s", line);
	else
		append_json(cf->session_json, line);
}
