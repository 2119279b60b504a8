# popsep: GNU Make, no autotools.  "make", "make check", "make demo",
# "make install PREFIX=/usr/local DESTDIR=...", "make check SANITIZE=1".

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR	?=

CC	?= cc
PKGS	:= openssl libbsd-overlay libseccomp pam libcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
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
LDLIBS	+= $(PKG_LIBS) -lgdbm

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
	lib/log.c

NET_SRCS := \
	net/io.c \
	net/tls.c \
	net/tls_keyless.c

PROTO_SRCS := \
	proto/pop3.c \
	proto/pop3_cmd.c \
	proto/sasl.c

AUTH_SRCS := \
	auth/auth.c \
	auth/apop.c \
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
	privsep/keyproc.c \
	privsep/keysign.c \
	privsep/main.c \
	privsep/master.c \
	privsep/monitor.c \
	privsep/monitor_wrap.c \
	privsep/msg.c \
	privsep/netchild.c \
	privsep/priv.c \
	privsep/proc.c \
	privsep/sandbox.c \
	privsep/sandbox_key.c \
	privsep/sandbox_net.c \
	privsep/sandbox_spool.c \
	privsep/spoolworker.c

# popauth(8): the database and the configuration parser, nothing else.
POPAUTH_SRCS := \
	popauth/popauth.c
POPAUTH_OBJS := $(BUILD)/tool/popauth.o $(BUILD)/lib/config.o \
	$(BUILD)/lib/log.o $(BUILD)/auth/popauth_db.o
# The configuration file popauth reads when it is not given -f.
POPAUTH_CONF ?= $(SYSCONFDIR)/popsep/popsepd.conf

SRCS	:= $(LIB_SRCS) $(NET_SRCS) $(PROTO_SRCS) $(AUTH_SRCS) $(SPOOL_SRCS) \
	   $(PRIVSEP_SRCS)
OBJS	:= $(SRCS:%.c=$(BUILD)/%.o)
LIBOBJS	:= $(filter-out $(BUILD)/privsep/main.o,$(OBJS))

UNIT_TESTS := \
	test_config \
	test_journal \
	test_keyless \
	test_keyproc \
	test_keysign \
	test_mbox \
	test_mbox_parse \
	test_mbox_cache \
	test_msg \
	test_pop3_cmd \
	test_popauth_db \
	test_sandbox \
	test_sasl
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/regress/%)

MANS	:= man/popauth.8 man/popsepd.8 man/popsepd.conf.5

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
	@$(CC) $(XCFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/regress/%: regress/unit/%.c $(LIBOBJS) regress/unit/test.h
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(XCFLAGS) $(CFLAGS) -Iregress/unit $(XLDFLAGS) $(LDFLAGS) \
	    -o $@ $< $(LIBOBJS) $(LDLIBS)

# The database as the server reads it, for regress/e2e/test_popauth.py.
$(BUILD)/regress/popauth_dump: regress/e2e/popauth_dump.c \
    $(BUILD)/auth/popauth_db.o $(BUILD)/lib/log.o
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
# frame decoder, the journal's recovery, the start-up cache reader, POP3
# sessions through the line reader, the signing policy, the log relay
# and the passwd-file parser (clang, libFuzzer, ASan, UBSan):
# FUZZ_SECONDS per target.
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

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/popsep
	install -m 0755 $(BUILD)/popsepd $(DESTDIR)$(SBINDIR)/popsepd
	install -m 0644 man/popsepd.8 $(DESTDIR)$(MANDIR)/man8/popsepd.8
	install -m 0644 man/popsepd.conf.5 $(DESTDIR)$(MANDIR)/man5/popsepd.conf.5
	install -m 0644 etc/popsepd.conf $(DESTDIR)$(SYSCONFDIR)/popsep/popsepd.conf.sample
	@if [ -z "$(DESTDIR)" ]; then sh etc/users.sh; fi
	install -o _popauth -m 4711 $(BUILD)/popauth $(DESTDIR)$(SBINDIR)/popauth
	install -m 0644 man/popauth.8 $(DESTDIR)$(MANDIR)/man8/popauth.8

clean:
	rm -rf build build-san build-bench build-fuzz

.PHONY: all unit deps check demo fuzz faults lint-man bench bench-tls install clean
