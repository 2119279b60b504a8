# popsep (ISC licence, see LICENSE): GNU Make, no autotools.  "make",
# "make check", "make demo", "make install PREFIX=/usr/local DESTDIR=...",
# "make uninstall" with the same variables, "make check SANITIZE=1".

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/lib/popsep
DOCDIR	?= $(PREFIX)/share/doc/popsep
EXAMPLESDIR ?= $(DOCDIR)/examples
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
# The built-in chroot-dir (privsep/main.c, popsepd.conf(5)).
CHROOTDIR := /var/lib/popsep/empty
DESTDIR	?=

CC	?= cc
PKGS	:= openssl libbsd-overlay libseccomp pam libcrypt
# MIT's GSSAPI library and GDBM are loaded at run time by the processes
# that use them (lib/dlib.c): their headers only.
DL_PKGS	:= krb5-gssapi
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(DL_PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# CFLAGS is the user's (optimisation, debugging); the warnings, hardening
# and include paths below always apply.
CFLAGS	?= -O2 -g
XCFLAGS	:= -std=gnu11 -Wall -Wextra -Werror -Wformat-security \
	   -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
	   -Wno-format-truncation \
	   -fstack-protector-strong -fPIE -D_GNU_SOURCE \
	   -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
	   -Ilib -Inet -Iproto -Iauth -Ispool -Iprivsep $(PKG_CFLAGS)
XLDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
LDLIBS	+= $(PKG_LIBS)

BUILD	?= build
ifeq ($(SANITIZE),1)
BUILD	:= build-san
XCFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined -DPOPSEP_SANITIZE
XLDFLAGS += -fsanitize=address,undefined
else
XCFLAGS	+= -D_FORTIFY_SOURCE=2
endif

LIB_SRCS := \
	lib/config.c \
	lib/dlib.c \
	lib/log.c \
	lib/names.c \
	lib/qpopper.c

NET_SRCS := \
	net/io.c \
	net/proxy.c \
	net/tls.c \
	net/tls_keyless.c

PROTO_SRCS := \
	proto/pop3.c \
	proto/pop3_cmd.c \
	proto/sasl.c

AUTH_SRCS := \
	auth/auth.c \
	auth/apop.c \
	auth/gssapi.c \
	auth/pam.c \
	auth/passwd_file.c \
	auth/policy.c \
	auth/popauth_db.c

SPOOL_SRCS := \
	spool/bulletin.c \
	spool/cache.c \
	spool/journal.c \
	spool/lock.c \
	spool/mbox.c \
	spool/mbox_parse.c \
	spool/uid.c

PRIVSEP_SRCS := \
	privsep/guard.c \
	privsep/gssproc.c \
	privsep/keyproc.c \
	privsep/keysign.c \
	privsep/main.c \
	privsep/manifest.c \
	privsep/master.c \
	privsep/metrics.c \
	privsep/metrics_fmt.c \
	privsep/metricsproc.c \
	privsep/monitor.c \
	privsep/monitor_report.c \
	privsep/monitor_wrap.c \
	privsep/msg.c \
	privsep/netchild.c \
	privsep/priv.c \
	privsep/proc.c \
	privsep/sandbox.c \
	privsep/sandbox_key.c \
	privsep/sandbox_metrics.c \
	privsep/sandbox_net.c \
	privsep/sandbox_spool.c \
	privsep/selfcheck.c \
	privsep/sesslog.c \
	privsep/sources.c \
	privsep/spoolworker.c

# popauth(8): the database and the configuration parser, nothing else.
POPAUTH_SRCS := \
	popauth/popauth.c
POPAUTH_OBJS := $(BUILD)/tool/popauth.o $(BUILD)/lib/config.o \
	$(BUILD)/lib/dlib.o $(BUILD)/lib/log.o $(BUILD)/lib/names.o \
	$(BUILD)/lib/qpopper.o $(BUILD)/auth/popauth_db.o
# The configuration file popauth reads when it is not given -f.
POPAUTH_CONF ?= $(SYSCONFDIR)/popsep/popsepd.conf

SRCS	:= $(LIB_SRCS) $(NET_SRCS) $(PROTO_SRCS) $(AUTH_SRCS) $(SPOOL_SRCS) \
	   $(PRIVSEP_SRCS)
OBJS	:= $(SRCS:%.c=$(BUILD)/%.o)
LIBOBJS	:= $(filter-out $(BUILD)/privsep/main.o,$(OBJS))

UNIT_TESTS := \
	test_config \
	test_dlib \
	test_guard \
	test_io \
	test_journal \
	test_keyless \
	test_keyproc \
	test_keysign \
	test_log \
	test_manifest \
	test_metrics \
	test_mbox \
	test_mbox_parse \
	test_mbox_cache \
	test_msg \
	test_pop3_cmd \
	test_proxy \
	test_popauth_db \
	test_sandbox \
	test_sasl
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/regress/%)

MANS	:= man/popauth.8 man/popsepd.8 man/popsepd.conf.5 man/popsep-privsep.7

all: $(BUILD)/popsepd $(BUILD)/popauth

$(BUILD)/popsepd: $(OBJS)
	@echo "LD $@"
	@$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/popauth: $(POPAUTH_OBJS)
	@echo "LD $@"
	@$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(POPAUTH_OBJS) $(LDLIBS)

# Its object is not in $(BUILD)/popauth/: that is the program's name.
$(BUILD)/tool/popauth.o: $(POPAUTH_SRCS) $(wildcard */*.h)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(XCFLAGS) $(CFLAGS) -DPOPAUTH_CONF='"$(POPAUTH_CONF)"' \
	    -c -o $@ $<

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/regress/%: regress/unit/%.c $(LIBOBJS) $(wildcard regress/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(XCFLAGS) $(CFLAGS) -Iregress/unit $(XLDFLAGS) $(LDFLAGS) \
	    -o $@ $< $(LIBOBJS) $(LDLIBS)

# The tests write damaged databases with GDBM itself, and compare what
# lib/dlib.c loads with the linked libraries.
$(BUILD)/regress/test_popauth_db: LDLIBS += -lgdbm
$(BUILD)/regress/test_dlib: LDLIBS += -lgdbm -lgssapi_krb5

# The database as the server reads it, for regress/e2e/test_popauth.py.
$(BUILD)/regress/popauth_dump: regress/e2e/popauth_dump.c \
    $(BUILD)/auth/popauth_db.o $(BUILD)/lib/dlib.o $(BUILD)/lib/log.o \
    $(BUILD)/lib/names.o
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS) $(BUILD)/regress/popauth_dump

# Installs the missing Debian packages (etc/deps.sh says which).
deps:
	@sh etc/deps.sh check

check: deps
	@$(MAKE) --no-print-directory -j2 all unit
	@sh regress/run.sh $(BUILD)

demo:
	@sh etc/deps.sh build
	@$(MAKE) --no-print-directory -j2 all
	@sh etc/demo.sh $(BUILD)

# Coverage-guided fuzzing of the command parser, the mbox parser, the
# frame decoder, the journal's recovery, the start-up cache reader, the
# APOP database reader, the SASL decoder, POP3 sessions through the line
# reader, the signing policy, the log relay and the passwd-file parser
# (clang, libFuzzer, ASan, UBSan): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 600
fuzz:
	@sh etc/deps.sh fuzz
	@sh regress/fuzz/run.sh $(FUZZ_SECONDS)

# Fault injection at scale: FAULT_TRIALS randomized trials of
# regress/e2e/test_faults.py in FAULT_JOBS parallel runs, a random seed
# unless FAULT_SEED is given; prints a table by fault, point, target, mode.
FAULT_TRIALS ?= 2000
FAULT_JOBS ?= 4
FAULT_SEED ?=
faults: deps
	@$(MAKE) --no-print-directory -j2 all
	@sh regress/e2e/faults.sh $(BUILD) $(FAULT_TRIALS) $(FAULT_JOBS) $(FAULT_SEED)

lint-man:
	mandoc -Tlint -Wwarning $(MANS)

# The benchmark suite: popsepd beside Dovecot and popa3d (session rate,
# CPU per session, RETR throughput, a 1 GiB mailbox, memory per idle
# session, many idle sessions); BENCH_ROUNDS, BENCH_SECONDS, BENCH_BIG=0,
# BENCH_IDLE=N change the run (regress/bench/RESULTS.md).
bench:
	@sh etc/deps.sh bench
	@$(MAKE) --no-print-directory -j2 all
	@python3 regress/bench/suite.py $(BUILD)

# TLS handshakes per second and their latency, popsepd beside Dovecot.
bench-tls:
	@sh etc/deps.sh bench
	@$(MAKE) --no-print-directory -j2 all
	@sh regress/bench/run.sh $(BUILD)

# The configuration, PAM, inetd, xinetd and systemd files with the
# installation's paths in place of @SBINDIR@, @SYSCONFDIR@, @LIBEXECDIR@,
# remade on every install and uninstall (the paths may differ).  pop3s.conf
# and popsep-pop3s@.service are popsepd.conf and popsep-pop3@.service
# for port 995: TLS from the first byte.
ETCGEN	:= $(BUILD)/etc
SUBST	= sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'
etc-files:
	@rm -rf $(ETCGEN)
	@mkdir -p $(ETCGEN)/popsep $(ETCGEN)/xinetd.d $(ETCGEN)/systemd \
	    $(ETCGEN)/pam.d
	@$(SUBST) etc/popsepd.conf > $(ETCGEN)/popsep/popsepd.conf
	@$(SUBST) -e 's|^set tls-support = stls$$|set tls-support = alternate-port|' \
	    etc/popsepd.conf > $(ETCGEN)/popsep/pop3s.conf
	@grep -q '^set tls-support = alternate-port$$' $(ETCGEN)/popsep/pop3s.conf
	@for f in xinetd.d/popsep-pop3 xinetd.d/popsep-pop3s pam.d/popsep \
	    systemd/popsepd.service systemd/popsep-pop3@.service \
	    systemd/popsep-pop3.socket systemd/popsep-pop3s.socket; do \
		$(SUBST) etc/$$f > $(ETCGEN)/$$f || exit 1; done
	@$(SUBST) etc/inetd/inetd.conf > $(ETCGEN)/inetd.conf
	@$(SUBST) -e 's|popsepd.conf$$|pop3s.conf|' \
	    -e 's|^Description=popsep POP3 session (socket-activated)$$|&, port 995|' \
	    etc/systemd/popsep-pop3@.service > $(ETCGEN)/systemd/popsep-pop3s@.service
	@grep -q 'pop3s.conf$$' $(ETCGEN)/systemd/popsep-pop3s@.service

UNITS	:= popsepd.service popsep-pop3@.service popsep-pop3s@.service \
	   popsep-pop3.socket popsep-pop3s.socket
EXAMPLES := popsep/popsepd.conf popsep/pop3s.conf inetd.conf \
	   xinetd.d/popsep-pop3 xinetd.d/popsep-pop3s
# Installed only where missing: the administrator's own files.
CONFIGS	:= popsep/popsepd.conf popsep/pop3s.conf pam.d/popsep

# The binary, the manuals, make-cert, the samples (EXAMPLESDIR), the
# systemd units, the configuration and PAM files where there are none,
# and the empty chroot.  Straight onto this system (no DESTDIR), also the
# two system users and a self-signed certificate if there is none; into
# DESTDIR, what a package must do instead is printed.  Straight onto the
# system, the Debian packages the build needs are installed first.
install: etc-files
	@if [ -z "$(DESTDIR)" ]; then sh etc/deps.sh build; fi
	@$(MAKE) --no-print-directory all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(EXAMPLESDIR)/xinetd.d $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/popsep $(DESTDIR)$(SYSCONFDIR)/pam.d
	install -d -m 0755 $(DESTDIR)$(CHROOTDIR)
	@if [ -n "$$(ls -A $(DESTDIR)$(CHROOTDIR))" ]; then \
		echo "install: $(DESTDIR)$(CHROOTDIR) must be empty" >&2; \
		exit 1; fi
	install -m 0755 $(BUILD)/popsepd $(DESTDIR)$(SBINDIR)/popsepd
	install -m 0644 man/popsepd.8 $(DESTDIR)$(MANDIR)/man8/popsepd.8
	install -m 0644 man/popsepd.conf.5 $(DESTDIR)$(MANDIR)/man5/popsepd.conf.5
	install -m 0644 man/popauth.8 $(DESTDIR)$(MANDIR)/man8/popauth.8
	install -m 0644 man/popsep-privsep.7 \
	    $(DESTDIR)$(MANDIR)/man7/popsep-privsep.7
	install -m 0755 etc/make-cert.sh $(DESTDIR)$(LIBEXECDIR)/make-cert
	for f in $(EXAMPLES); do \
		install -m 0644 $(ETCGEN)/$$f \
		    $(DESTDIR)$(EXAMPLESDIR)/$${f#popsep/} || exit 1; done
	for f in $(UNITS); do \
		install -m 0644 $(ETCGEN)/systemd/$$f \
		    $(DESTDIR)$(SYSTEMDUNITDIR)/$$f || exit 1; done
	@for f in $(CONFIGS); do \
		d=$(DESTDIR)$(SYSCONFDIR)/$$f; \
		if [ -e $$d ]; then echo "install: $$d exists; kept"; \
		else echo "install -m 0644 $(ETCGEN)/$$f $$d"; \
			install -m 0644 $(ETCGEN)/$$f $$d || exit 1; fi; done
	@if [ -z "$(DESTDIR)" ]; then \
		sh etc/users.sh && \
		echo "install -o _popauth -m 4711 $(BUILD)/popauth $(SBINDIR)/popauth" && \
		install -o _popauth -m 4711 $(BUILD)/popauth $(SBINDIR)/popauth && \
		sh etc/make-cert.sh $(SYSCONFDIR)/popsep/cert.pem \
		    $(SYSCONFDIR)/popsep/key.pem; \
	else \
		echo "install -m 0711 $(BUILD)/popauth $(DESTDIR)$(SBINDIR)/popauth"; \
		install -m 0711 $(BUILD)/popauth $(DESTDIR)$(SBINDIR)/popauth || exit 1; \
		echo "install: into DESTDIR: no users and no certificate made;"; \
		echo "  on the target system, as root: create the system users"; \
		echo "  _popsep, _popsepkey and _popauth (no home, no shell;"; \
		echo "  etc/users.sh), make $(SBINDIR)/popauth owned by _popauth,"; \
		echo "  mode 4711,"; \
		echo "  give $(CHROOTDIR) to root, mode 0755, and run"; \
		echo "  $(LIBEXECDIR)/make-cert $(SYSCONFDIR)/popsep/cert.pem $(SYSCONFDIR)/popsep/key.pem"; \
	fi

# Removes what install laid out: the configuration and PAM files only
# when they are still as installed, the chroot only when it is empty.
# The certificate, the key and the users stay (their removal is printed).
uninstall: etc-files
	rm -f $(DESTDIR)$(SBINDIR)/popsepd $(DESTDIR)$(MANDIR)/man8/popsepd.8 \
	    $(DESTDIR)$(MANDIR)/man5/popsepd.conf.5 $(DESTDIR)$(LIBEXECDIR)/make-cert \
	    $(DESTDIR)$(SBINDIR)/popauth $(DESTDIR)$(MANDIR)/man8/popauth.8 \
	    $(DESTDIR)$(MANDIR)/man7/popsep-privsep.7
	for f in $(EXAMPLES); do rm -f $(DESTDIR)$(EXAMPLESDIR)/$${f#popsep/}; done
	for f in $(UNITS); do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$f; done
	@for f in $(CONFIGS); do \
		d=$(DESTDIR)$(SYSCONFDIR)/$$f; \
		[ -e $$d ] || continue; \
		if cmp -s $$d $(ETCGEN)/$$f; then echo "rm -f $$d"; rm -f $$d; \
		else echo "uninstall: $$d was changed; kept"; fi; done
	@for d in $(EXAMPLESDIR)/xinetd.d $(EXAMPLESDIR) $(DOCDIR) \
	    $(LIBEXECDIR) $(CHROOTDIR) $(dir $(CHROOTDIR)) $(SYSCONFDIR)/popsep; do \
		[ -d $(DESTDIR)$$d ] && rmdir $(DESTDIR)$$d 2>/dev/null && \
		    echo "rmdir $(DESTDIR)$$d"; done; true
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/popsep/cert.pem ] || \
	    [ -e $(DESTDIR)$(SYSCONFDIR)/popsep/key.pem ]; then \
		echo "uninstall: kept $(SYSCONFDIR)/popsep/cert.pem and key.pem"; fi
	@if [ -z "$(DESTDIR)" ]; then \
		echo "uninstall: the users _popsep, _popsepkey and _popauth stay"; \
		echo "  (userdel each to remove them)"; fi

clean:
	rm -rf build build-san build-bench build-fuzz build-deb

.PHONY: all unit deps check demo fuzz faults lint-man bench bench-tls \
	etc-files install uninstall clean
