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
 * What popsep does with each of Qpopper 4.0 and 4.1's option names and
 * command-line flags.  Read by the configuration parser in the master (or
 * the inetd-mode monitor) as root, before any client byte is read.
 */

#ifndef POPSEP_QPOPPER_H
#define POPSEP_QPOPPER_H

#include <stddef.h>

enum qp_disposition {
	QP_WORKS,	/* a popsep option (target) does it */
	QP_IGNORED,	/* accepted with a warning: it has no effect */
	QP_REFUSED,	/* popsep cannot honour it: refused */
	QP_IF_OFF,	/* ignored when false or 0, refused otherwise */
};

enum qp_value {
	QV_ANY,		/* any string */
	QV_BOOL,
	QV_INT,		/* decimal or 0x hex */
};

struct qp_option {
	const char		*name;	/* lower case */
	enum qp_disposition	 disp;
	const char		*target;	/* QP_WORKS */
	enum qp_value		 value;	/* what the value must look like */
	const char		*why;
};

struct qp_flag {
	int		 ch;
	const char	*option;	/* the Qpopper option it stands for */
	const char	*value;		/* fixed value; NULL: the argument */
	const char *const *numbered;	/* the value of argument N */
	const char	*expect;	/* the numbers numbered takes */
};

const struct qp_option	*qp_option(const char *);
const struct qp_option	*qp_options(size_t *);
const struct qp_flag	*qp_flag(int);
const char		*qp_value_note(const char *, const char *);
const char		*qp_flag_string(void);

#endif /* POPSEP_QPOPPER_H */
