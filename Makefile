# simgate build. GNU Make, gnu11, pkg-config for every library.
#
# Layout the rules below rely on (add files, not rules):
#   drivers/<mod>/*.c        -> $(O)/lib/libsg_<mod>.a      (one archive per driver module)
#   firmware/*.c (not main)  -> $(O)/lib/libsg_firmware.a
#   firmware/main.c          -> $(O)/simgated
#   host-tools/<tool>/*.c    -> $(O)/<tool>                 (simgate, simpool, modemsim)
#   tests/unit/**/test_*.c   -> $(O)/asan/tests/unit/**/test_*   (cmocka, ASan+UBSan)
#   tests/integration/test_* -> run by tests/run-tests against $(O)/ binaries
#   tests/fuzz/fuzz_*.c      -> $(O)/fuzz/fuzz_*            (clang libFuzzer, `make fuzz`)
# Every program and test links every archive inside one --start-group, so
# modules may call each other without an ordering table.

O ?= build
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# `make V=1` shows full command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

# ---------------------------------------------------------------- libraries
DRV_PKGS := libserialport libgpiod
FW_PKGS := sqlite3 libconfig libuv libmicrohttpd jansson libcurl libsodium
TEST_PKGS := cmocka
ALL_PKGS := $(DRV_PKGS) $(FW_PKGS)

PKG_CFLAGS := $(shell pkg-config --cflags $(ALL_PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(ALL_PKGS) 2>/dev/null)
CMOCKA_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

# libgpiod 1.x (Debian 12) and 2.x have different APIs; drivers/gpio picks by macro.
GPIOD_MAJOR := $(shell pkg-config --modversion libgpiod 2>/dev/null | cut -d. -f1)
ifeq ($(GPIOD_MAJOR),2)
GPIOD_DEF := -DSG_GPIOD_V2=1
else
GPIOD_DEF := -DSG_GPIOD_V1=1
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wundef -Wvla -Wnull-dereference -Werror \
        -Wno-format-truncation
BASE_CFLAGS := -std=gnu11 -I. $(WARN) $(GPIOD_DEF) -D_GNU_SOURCE \
        -DSG_VERSION='"$(VERSION)"' -DSG_GIT_REV='"$(GIT_REV)"' \
        -DSG_SYSCONFDIR='"$(SYSCONFDIR)"' -DSG_BOARDS_DIR='"$(PREFIX)/share/simgate/boards"' \
        $(PKG_CFLAGS)
CFLAGS ?= -O2 -g
REL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS) -fstack-protector-strong -D_FORTIFY_SOURCE=2
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g $(SAN) -DSG_TEST_BUILD=1
LDLIBS := $(PKG_LIBS) -lm

# ---------------------------------------------------------------- sources
DRV_MODS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard drivers/*/*.c)))))
DRV_SRCS := $(wildcard drivers/*/*.c)
FW_SRCS := $(filter-out firmware/main.c,$(wildcard firmware/*.c))
TOOLS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard host-tools/*/*.c)))))
UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
TEST_SUPPORT_SRCS := $(wildcard tests/support/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
ALL_C := $(DRV_SRCS) $(FW_SRCS) firmware/main.c $(wildcard host-tools/*/*.c) \
         $(UNIT_SRCS) $(TEST_SUPPORT_SRCS) $(FUZZ_SRCS)

rel_obj = $(patsubst %.c,$(O)/obj/%.o,$(1))
asan_obj = $(patsubst %.c,$(O)/asan/obj/%.o,$(1))

REL_LIBS := $(foreach m,$(DRV_MODS),$(O)/lib/libsg_$(m).a) $(if $(FW_SRCS),$(O)/lib/libsg_firmware.a)
ASAN_LIBS := $(foreach m,$(DRV_MODS),$(O)/asan/lib/libsg_$(m).a) $(if $(FW_SRCS),$(O)/asan/lib/libsg_firmware.a) \
             $(if $(TEST_SUPPORT_SRCS),$(O)/asan/lib/libsg_testsupport.a)
BINS := $(O)/simgated $(foreach t,$(TOOLS),$(O)/$(t))
ASAN_BINS := $(O)/asan/simgated $(foreach t,$(TOOLS),$(O)/asan/$(t))
UNIT_BINS := $(patsubst %.c,$(O)/asan/%,$(UNIT_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))

SHELL := /bin/bash
.PHONY: all deps test unit integration demo format lint install clean fuzz bench check-tools
.DEFAULT_GOAL := all

all: $(BINS)

# ---------------------------------------------------------------- compile
$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(REL_CFLAGS) -MMD -MP -c $< -o $@

$(O)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC-SAN,$<)
	$(Q)$(CC) $(ASAN_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c $< -o $@

define drv_lib
$(O)/lib/libsg_$(1).a: $(call rel_obj,$(wildcard drivers/$(1)/*.c))
	@mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
$(O)/asan/lib/libsg_$(1).a: $(call asan_obj,$(wildcard drivers/$(1)/*.c))
	@mkdir -p $$(@D)
	$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(DRV_MODS),$(eval $(call drv_lib,$(m))))

$(O)/lib/libsg_firmware.a: $(call rel_obj,$(FW_SRCS))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^
$(O)/asan/lib/libsg_firmware.a: $(call asan_obj,$(FW_SRCS))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^
$(O)/asan/lib/libsg_testsupport.a: $(call asan_obj,$(TEST_SUPPORT_SRCS))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

LINK_REL = -Wl,--start-group $(REL_LIBS) -Wl,--end-group $(LDLIBS)
LINK_ASAN = -Wl,--start-group $(ASAN_LIBS) -Wl,--end-group $(LDLIBS)

$(O)/simgated: $(call rel_obj,firmware/main.c) $(REL_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $< $(LINK_REL)
$(O)/asan/simgated: $(call asan_obj,firmware/main.c) $(ASAN_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(ASAN_CFLAGS) -o $@ $< $(LINK_ASAN)

define tool_bin
$(O)/$(1): $(call rel_obj,$(wildcard host-tools/$(1)/*.c)) $(REL_LIBS)
	$(call say,LD,$$@)
	$(Q)$(CC) $(REL_CFLAGS) -o $$@ $(call rel_obj,$(wildcard host-tools/$(1)/*.c)) $(LINK_REL)
$(O)/asan/$(1): $(call asan_obj,$(wildcard host-tools/$(1)/*.c)) $(ASAN_LIBS)
	$(call say,LD,$$@)
	$(Q)$(CC) $(ASAN_CFLAGS) -o $$@ $(call asan_obj,$(wildcard host-tools/$(1)/*.c)) $(LINK_ASAN)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_bin,$(t))))

$(O)/asan/tests/%: $(O)/asan/obj/tests/%.o $(ASAN_LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ASAN_CFLAGS) -o $@ $< $(LINK_ASAN) $(CMOCKA_LIBS)

# libFuzzer targets: the libraries are rebuilt with clang inside the target.
FUZZ_CFLAGS := -std=gnu11 -I. -g -O1 -fsanitize=fuzzer,address,undefined $(GPIOD_DEF) -D_GNU_SOURCE \
               -DSG_VERSION='"$(VERSION)"' -DSG_GIT_REV='"$(GIT_REV)"' -DSG_FUZZ_BUILD=1 \
               -DSG_SYSCONFDIR='"$(SYSCONFDIR)"' -DSG_BOARDS_DIR='"$(PREFIX)/share/simgate/boards"' $(PKG_CFLAGS)
$(O)/fuzz/%: tests/fuzz/%.c $(DRV_SRCS)
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(DRV_SRCS) $(LDLIBS)

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- targets
deps:
	@tests/tools/deps.sh

unit: $(UNIT_BINS)
	@tests/run-tests --unit-only --build $(O)

integration: $(BINS) $(ASAN_BINS)
	@tests/run-tests --integration-only --build $(O)

test: deps
	@$(MAKE) --no-print-directory all $(ASAN_BINS) $(UNIT_BINS)
	@tests/run-tests --build $(O)

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/tools/demo.sh $(O)

fuzz: $(FUZZ_BINS)
	@tests/tools/fuzz-smoke.sh $(O) $(FUZZ_RUNS)

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh $(O)

format:
	clang-format -i $(filter-out tests/transcripts/%,$(ALL_C)) $(shell find drivers firmware host-tools tests -name '*.h')

# cppcheck over the whole tree; clang-tidy over every translation unit with
# the same flags the compiler sees.
# `make lint LINT_FILES="a.c b.c"` checks a subset.
LINT_FILES ?= $(DRV_SRCS) $(FW_SRCS) firmware/main.c $(wildcard host-tools/*/*.c)
lint:
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem -I. -D_GNU_SOURCE $(GPIOD_DEF) \
	  $(LINT_FILES)
	clang-tidy --quiet --extra-arg=-Wno-unknown-warning-option $(LINT_FILES) -- $(BASE_CFLAGS) 2>&1 | grep -v 'warnings generated' ; \
	  exit $${PIPESTATUS[0]}

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(O)/simgated $(DESTDIR)$(PREFIX)/sbin/simgated
	for t in $(TOOLS); do install -m 0755 $(O)/$$t $(DESTDIR)$(PREFIX)/bin/$$t; done
	install -d $(DESTDIR)$(SYSCONFDIR)/simgate $(DESTDIR)$(PREFIX)/share/simgate/boards
	install -m 0644 conf/simgated.conf $(DESTDIR)$(SYSCONFDIR)/simgate/simgated.conf.example
	test -e $(DESTDIR)$(SYSCONFDIR)/simgate/simgated.conf || \
	  install -m 0640 conf/simgated.conf $(DESTDIR)$(SYSCONFDIR)/simgate/simgated.conf
	install -m 0644 boards/*.conf $(DESTDIR)$(PREFIX)/share/simgate/boards/
	install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)/lib/udev/rules.d
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' conf/simgated.service \
	  > $(DESTDIR)/lib/systemd/system/simgated.service
	chmod 0644 $(DESTDIR)/lib/systemd/system/simgated.service
	install -m 0644 conf/99-simgate.rules $(DESTDIR)/lib/udev/rules.d/99-simgate.rules

clean:
	rm -rf $(O)
