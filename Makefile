# SPDX-License-Identifier: MIT
# FinAlloc top-level build.  `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
B       ?= build
CC      ?= cc
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

VERSION := 0.1.0
SONAME  := libfinalloc.so.1

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
# CI fails on any warning; a developer sees them without losing the build.
ifneq ($(CI),)
WERROR  ?= 1
endif
ifeq ($(WERROR),1)
WARN    += -Werror
endif

OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Iinclude
CFLAGS   += -std=gnu11 $(OPT) $(WARN) -pthread -fno-strict-aliasing
# The C++ layer (include/finalloc.hpp), its tests and examples.
CXXWARN  := -Wall -Wextra -Wshadow $(if $(filter 1,$(WERROR)),-Werror)
CXXFLAGS += $(OPT) $(CXXWARN) -pthread -fno-strict-aliasing
# Each object's header dependencies, written by the compiler.
DEPFLAGS  = -MMD -MP -MF $@.d
# Library internals are visible to library objects only; the tools share
# lib/util (file readers, the JSON writer) and the public API.
LIB_CPPFLAGS  := -Ilib
TOOL_CPPFLAGS := -Ilib/util -Itools
LDLIBS   += -lnuma -luring -lpthread -lm -ldl

# Sanitizer variants build the same sources into their own tree.
ifeq ($(SAN),asan)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
CXXFLAGS += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

# lib/malloc is the drop-in, a library of its own on top of the others.
LIB_SRCS   := $(sort $(shell find lib -name '*.c' -not -path 'lib/malloc/*'))
# tools/bench/floor.c is the bench's floor, a preloaded library of its own.
TOOL_SRCS  := $(sort $(filter-out tools/bench/floor.c,$(shell find tools -name '*.c')))
# The bench's C++ workloads (tools/bench/cxx.cpp); instr_cxx.cpp is a
# program of its own (INSTR_CXX).
TOOL_CXX_SRCS := tools/bench/cxx.cpp
HTEST_SRCS := $(sort $(wildcard tests/host/*.c))
KTEST_SRCS := $(sort $(wildcard tests/kmod/*.c))
C_TREES    := include lib tools tests/host tests/malloc tests/kmod tests/install tests/debugger \
              examples

LIB_OBJS   := $(LIB_SRCS:%.c=$(B)/obj/%.o)
LIB_PICS   := $(LIB_SRCS:%.c=$(B)/pic/%.o)
TOOL_OBJS  := $(TOOL_SRCS:%.c=$(B)/obj/%.o) $(TOOL_CXX_SRCS:%.cpp=$(B)/obj/%.o)
HTESTS     := $(HTEST_SRCS:tests/host/%.c=$(B)/tests/%)
MTEST_SRCS := $(sort $(wildcard tests/malloc/*.c))
MTESTS     := $(MTEST_SRCS:tests/malloc/%.c=$(B)/tests/%) \
              $(MTEST_SRCS:tests/malloc/%.c=$(B)/tests/%_static)
# tests/host/cxx.cpp once per standard; host only (not in the VM).
CXX_TESTS  := $(B)/tests/cxx17 $(B)/tests/cxx20
EX_SRCS    := $(sort $(wildcard examples/*.c examples/*.cpp))
EXAMPLES   := $(patsubst examples/%,$(B)/examples/%,$(basename $(EX_SRCS)))
KTESTS     := $(KTEST_SRCS:tests/kmod/%.c=$(B)/vmtests/%)

STATIC_LIB := $(B)/libfinalloc.a
SHARED_LIB := $(B)/$(SONAME)
# The malloc drop-in (lib/malloc): LD_PRELOAD or linked into a program.
MALLOC_SONAME := libfinalloc-malloc.so.0
MALLOC_SO     := $(B)/$(MALLOC_SONAME)
MALLOC_A      := $(B)/libfinalloc-malloc.a
FLOOR_SO      := $(B)/libfinalloc-floor.so
MALLOC_OBJS   := $(B)/obj/lib/malloc/malloc.o $(B)/obj/lib/malloc/cxx.o
# The library beneath allocates for itself from the drop-in's bootstrap
# allocator, never through malloc (it may hold a pool's lock).
MALLOC_RENAME := $(foreach f,malloc calloc realloc aligned_alloc posix_memalign,\
                   --redefine-sym $(f)=fa__boot_$(f))
BIN        := bin/finalloc
KSFT       := $(B)/kselftest/.stamp
KSFT_INC   := -I$(B)/kselftest
# The harness compares mixed signedness inside its macros.
TEST_WARN  := -Wno-missing-prototypes -Wno-sign-compare -Wno-misleading-indentation
# Static links warn that libnuma's getaddrinfo needs glibc's NSS at run time;
# nothing here resolves names.
STATIC_LD  := -static -Wl,--no-warnings

# The module is built when Debian's kernel headers are present.
KDIR    ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
             $(wildcard /usr/src/linux-headers-*-amd64))
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) include/uapi/linux/finalloc.h

.PHONY: all lib malloc kmod examples run check check-host check-san check-memcheck check-vm bench \
        bench-instructions \
        install uninstall check-install clean format check-format check-layers checkpatch deps help \
        tests vmtests check-examples deb check-deb
.DEFAULT_GOAL := all

all: lib $(BIN) $(if $(SAN),,$(FLOOR_SO)) $(if $(KDIR),kmod)

lib: $(STATIC_LIB) $(SHARED_LIB) $(if $(SAN),,malloc)

# ASan and TSan bring their own malloc: no drop-in in those trees.
malloc: $(MALLOC_SO) $(MALLOC_A)

# -fno-builtin: the compiler must not turn malloc + memset into a call to
# calloc inside calloc itself.
$(B)/obj/lib/malloc/%.o: lib/malloc/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(LIB_CPPFLAGS) $(CFLAGS) -fno-builtin $(DEPFLAGS) -fPIC -c $< -o $@

$(B)/obj/lib/malloc/%.o: lib/malloc/%.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) -std=c++17 $(CPPFLAGS) $(CXXFLAGS) -fno-builtin -fsized-deallocation $(DEPFLAGS) -fPIC -c $< -o $@

$(B)/malloc/lib.o: $(LIB_PICS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(LD) -r -o $@.tmp $(LIB_PICS) && objcopy $(MALLOC_RENAME) $@.tmp $@ && rm -f $@.tmp

$(MALLOC_SO): $(MALLOC_OBJS) $(B)/malloc/lib.o lib/malloc/malloc.map
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -shared -Wl,-soname,$(MALLOC_SONAME) -Wl,-z,nodelete \
		-Wl,--version-script=lib/malloc/malloc.map -o $@ $(MALLOC_OBJS) $(B)/malloc/lib.o \
		$(LDLIBS)
	$(Q)ln -sf $(MALLOC_SONAME) $(B)/libfinalloc-malloc.so

# One object whose only global definitions are the API's (and the C++
# personality reference, which must stay global for its COMDAT group and
# so for unwinding): link it first
# (cc prog.o build/libfinalloc-malloc.a -lstdc++ -lnuma -luring -ldl -lm).
$(MALLOC_A): $(MALLOC_OBJS) $(B)/malloc/lib.o lib/malloc/malloc.map
	@echo "  AR      $@"
	$(Q)$(LD) -r -o $(B)/malloc/all.o $(MALLOC_OBJS) $(B)/malloc/lib.o
	$(Q)objcopy -w $$(sed -n 's/^\t\t\([a-z_][a-z_0-9]*\);$$/--keep-global-symbol=\1/p' \
		lib/malloc/malloc.map) --keep-global-symbol='_Zn[wa]*' \
		--keep-global-symbol='_Zd[la]*' --keep-global-symbol='DW.ref.*' $(B)/malloc/all.o $(B)/malloc/finalloc-malloc.o
	$(Q)rm -f $@ && ar rcs $@ $(B)/malloc/finalloc-malloc.o

$(B)/obj/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(LIB_CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/pic/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(LIB_CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -fPIC -c $< -o $@

$(B)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(TOOL_CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/obj/tools/%.o: tools/%.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) -std=c++17 $(CPPFLAGS) $(TOOL_CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -c $< -o $@

# The archive holds one relocatable object: a static link takes the whole
# library, so its constructors (the fork handlers, the exit dump) run as they
# do with the shared one.
$(B)/libfinalloc.o: $(LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(LD) -r -o $@ $(LIB_OBJS)

$(STATIC_LIB): $(B)/libfinalloc.o
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_PICS) lib/libfinalloc.map
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=lib/libfinalloc.map -o $@ $(LIB_PICS) $(LDLIBS)
	$(Q)ln -sf $(SONAME) $(B)/libfinalloc.so

# The bench's floor column (`finalloc bench --alloc floor`): preloaded in
# its workers, never installed.
$(FLOOR_SO): tools/bench/floor.c
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fno-builtin -fPIC -shared $(LDFLAGS) -o $@ $< -ldl

# C++ in the bench (tools/bench/cxx.cpp): linked with the C++ driver.
$(BIN): $(TOOL_OBJS) $(STATIC_LIB)
	@mkdir -p bin
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(STATIC_LIB) $(LDLIBS)

# kselftest headers: extracted from Debian's linux-source-6.1, never vendored.
$(KSFT):
	$(Q)scripts/kselftest.sh $(B)/kselftest

$(B)/tests/%: tests/host/%.c $(STATIC_LIB) $(KSFT)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(KSFT_INC) -Itests/host $(CFLAGS) $(TEST_WARN) $(DEPFLAGS) \
		$(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

# VM test programs are static: the initramfs has no libc.
$(B)/vmtests/%: tests/kmod/%.c $(STATIC_LIB) $(KSFT)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static)"
	$(Q)$(CC) $(CPPFLAGS) $(KSFT_INC) -Itests/host $(CFLAGS) $(TEST_WARN) $(DEPFLAGS) $(STATIC_LD) \
		-o $@ $< $(STATIC_LIB) $(LDLIBS)

# The harness header is C only: a C driver runs the C++ tests.
$(B)/tests/cxx-driver.o: tests/host/cxx/driver.c tests/host/cxx/driver.h $(KSFT)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(KSFT_INC) $(CFLAGS) $(TEST_WARN) -c $< -o $@

$(CXX_TESTS): $(B)/tests/cxx%: tests/host/cxx.cpp $(B)/tests/cxx-driver.o $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++$* $(CPPFLAGS) -Itests/host $(CXXFLAGS) $(DEPFLAGS) $(LDFLAGS) \
		-o $@ $< $(B)/tests/cxx-driver.o $(STATIC_LIB) $(LDLIBS)

tests: $(HTESTS) $(CXX_TESTS) $(if $(SAN),,$(MTESTS))

# The drop-in's tests (tests/malloc): each program twice, plain (it
# re-executes itself with the .so preloaded) and linked with the archive.
$(B)/tests/cxx_forms.o: tests/malloc/cxx_forms.cpp
	@mkdir -p $(dir $@)
	$(Q)$(CXX) -std=c++17 $(CXXFLAGS) -fsized-deallocation -c $< -o $@

$(B)/tests/malloc_%: tests/malloc/malloc_%.c tests/malloc/preload.h $(B)/tests/cxx_forms.o \
		$(MALLOC_SO) $(KSFT)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(KSFT_INC) $(CFLAGS) $(TEST_WARN) -fno-builtin $(LDFLAGS) -o $@ $< \
		$(B)/tests/cxx_forms.o -lstdc++ -lpthread

$(B)/tests/%_static: tests/malloc/%.c tests/malloc/preload.h $(B)/tests/cxx_forms.o \
		$(MALLOC_A) $(KSFT)
	@echo "  CC      $@"
	$(Q)$(CC) -DFA_MALLOC_STATIC $(CPPFLAGS) $(KSFT_INC) $(CFLAGS) $(TEST_WARN) -fno-builtin \
		$(LDFLAGS) -o $@ $< $(B)/tests/cxx_forms.o $(MALLOC_A) -lstdc++ $(LDLIBS)

# Deliberate bugs for the memory debuggers (scripts/check-memcheck.sh): plain
# for memcheck, and built with ASan, both over the ordinary archive.  -O0
# keeps every frame the reports are checked for.
DBG_BUGS   := $(B)/debugger/bugs $(B)/debugger/bugs-asan
DBG_CFLAGS := -std=gnu11 -O0 -g $(WARN) -pthread

$(B)/debugger/bugs: tests/debugger/bugs.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(DBG_CFLAGS) $(DEPFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

$(B)/debugger/bugs-asan: tests/debugger/bugs.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (ASan)"
	$(Q)$(CC) $(CPPFLAGS) $(DBG_CFLAGS) -fsanitize=address -fno-omit-frame-pointer $(DEPFLAGS) \
		-o $@ $< $(STATIC_LIB) $(LDLIBS)

# Programs a user copies from; `make check` runs them (scripts/examples.sh).
examples: $(EXAMPLES)

$(B)/examples/%: examples/%.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

$(B)/examples/%: examples/%.cpp $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++17 $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

# The C++ layer's loops for bench-instructions (not installed).
INSTR_CXX := $(B)/bench/instr-cxx
$(INSTR_CXX): tools/bench/instr_cxx.cpp $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++17 $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) $(LDFLAGS) -o $@ $< $(STATIC_LIB) $(LDLIBS)

check-examples: examples
	$(Q)scripts/examples.sh $(EXAMPLES)

vmtests: $(KTESTS) $(HTESTS:$(B)/tests/%=$(B)/vmtests/host-%) $(B)/vmbin/finalloc \
		$(B)/vmtests/malloc-device $(MALLOC_SO)

# Real programs on the drop-in with the device backend: run.sh copies the
# drop-in, perl, sort and their libraries into the VM.
$(B)/vmtests/malloc-device: tests/vm/malloc-device.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 755 $< $@

# The CLI inside the VM, static like the tests (the rig puts it in /bin).
$(B)/vmbin/finalloc: $(TOOL_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	$(Q)$(CXX) $(LDFLAGS) $(STATIC_LD) -o $@ $(TOOL_OBJS) $(STATIC_LIB) $(LDLIBS)

$(B)/vmtests/host-%: tests/host/%.c $(STATIC_LIB) $(KSFT)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static)"
	$(Q)$(CC) $(CPPFLAGS) $(KSFT_INC) -Itests/host $(CFLAGS) $(TEST_WARN) $(DEPFLAGS) $(STATIC_LD) \
		-o $@ $< $(STATIC_LIB) $(LDLIBS)

kmod: $(B)/kmod/finalloc.ko

# Out-of-tree builds for several kernels from one source: each kernel gets a
# directory of symlinks so objects never collide.
$(B)/kmod/finalloc.ko: $(KMOD_SRCS)
	$(Q)scripts/build-kmod.sh "$(KDIR)" $(B)/kmod

# run and check install missing Debian packages first (as root), so both work
# from a clean clone on a fresh machine.
run:
	$(Q)scripts/deps.sh build
	$(Q)$(MAKE) --no-print-directory all
	./$(BIN)

check:
	$(Q)scripts/deps.sh all
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/check.sh

check-host: lib tests $(BIN) $(if $(SAN),,$(FLOOR_SO))
	$(Q)scripts/run-tests.sh host $(HTESTS) $(CXX_TESTS) $(MTESTS)
	$(Q)scripts/malloc-programs.sh $(B)
	$(Q)BIN=$(BIN) scripts/bench-html.sh

# Both sanitizer runs happen even when the first fails.
check-san:
	$(Q)rc=0; \
	$(MAKE) --no-print-directory B=$(B)/asan SAN=asan tests && \
		scripts/run-tests.sh asan $(patsubst $(B)/%,$(B)/asan/%,$(HTESTS) $(CXX_TESTS)) || rc=1; \
	$(MAKE) --no-print-directory B=$(B)/tsan SAN=tsan tests && \
		FA_TSAN=1 scripts/run-tests.sh tsan $(filter %_mt,$(HTESTS:$(B)/%=$(B)/tsan/%)) || rc=1; \
	exit $$rc

# memcheck and ASan report the deliberate bugs; the pool and arena host
# programs run clean under memcheck.  Not in sanitizer trees.
check-memcheck: lib tests $(DBG_BUGS)
	$(Q)scripts/check-memcheck.sh $(B)

# NODES=2 or NODES=4 runs both kernels with that topology only.
check-vm: vmtests
	$(Q)$(if $(NODES),FA_VM_MATRIX="6.1:$(NODES) 6.12:$(NODES)") tests/vm/run-all.sh

bench: $(BIN)
	./$(BIN) bench

bench-instructions: $(BIN) $(INSTR_CXX)
	$(Q)INSTR_CXX=$(INSTR_CXX) scripts/bench-instructions.sh

# install and uninstall walk the same lists, so uninstall takes away exactly
# what install put.  The uapi header goes where kernel uapi headers are
# installed: <linux/finalloc.h>.  Each directory may be set alone (debian/rules
# sets LIBDIR to the multiarch one).  udev and systemd read their
# /usr/local/lib directories too, so PREFIX=/usr/local rules and units work.
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
UDEVRULESDIR   ?= $(PREFIX)/lib/udev/rules.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# /usr keeps its configuration in /etc; another prefix in its own etc/.
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INST_LIB  := $(DESTDIR)$(LIBDIR)
INST_INC  := $(DESTDIR)$(INCLUDEDIR)
INST_BIN  := $(DESTDIR)$(BINDIR)
INST_MAN  := $(DESTDIR)$(MANDIR)
INST_PC   := $(DESTDIR)$(PKGCONFIGDIR)
INST_UDEV := $(DESTDIR)$(UDEVRULESDIR)
INST_UNIT := $(DESTDIR)$(SYSTEMDUNITDIR)
PUB_HDRS  := $(sort $(wildcard include/finalloc/*.h))
MAN_PAGES := $(sort $(wildcard man/*.[1-9]))
MAN_SECS  := $(sort $(subst .,,$(suffix $(MAN_PAGES))))
# DEST/page for every page: man/x.3 -> $(INST_MAN)/man3/x.3
MAN_DEST   = $(foreach p,$(MAN_PAGES),$(INST_MAN)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
# dist/*.in name the install directories: @LIBDIR@ and the like.
SUBST      = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
             -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
             -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: all
	install -d $(INST_LIB) $(INST_INC)/linux $(INST_INC)/finalloc $(INST_BIN) \
		$(addprefix $(INST_MAN)/man,$(MAN_SECS)) $(INST_PC) $(INST_UDEV) $(INST_UNIT)
	install -m 644 $(STATIC_LIB) $(INST_LIB)/
	install -m 755 $(SHARED_LIB) $(INST_LIB)/
	ln -sf $(SONAME) $(INST_LIB)/libfinalloc.so
	install -m 755 $(MALLOC_SO) $(INST_LIB)/
	ln -sf $(MALLOC_SONAME) $(INST_LIB)/libfinalloc-malloc.so
	install -m 644 $(MALLOC_A) $(INST_LIB)/
	install -m 644 include/finalloc.h include/finalloc.hpp $(INST_INC)/
	install -m 644 $(PUB_HDRS) $(INST_INC)/finalloc/
	install -m 644 include/uapi/linux/finalloc.h $(INST_INC)/linux/
	install -m 755 $(BIN) $(INST_BIN)/
	$(foreach s,$(MAN_SECS),install -m 644 $(filter %.$(s),$(MAN_PAGES)) $(INST_MAN)/man$(s)/;)
	$(SUBST) dist/finalloc.pc.in >$(INST_PC)/finalloc.pc && chmod 644 $(INST_PC)/finalloc.pc
	install -m 644 dist/70-finalloc.rules $(INST_UDEV)/
	$(SUBST) dist/finalloc-reserve.service.in >$(INST_UNIT)/finalloc-reserve.service && \
		chmod 644 $(INST_UNIT)/finalloc-reserve.service

uninstall:
	rm -f $(INST_LIB)/libfinalloc.a $(INST_LIB)/$(SONAME) $(INST_LIB)/libfinalloc.so \
		$(INST_LIB)/$(MALLOC_SONAME) $(INST_LIB)/libfinalloc-malloc.so \
		$(INST_LIB)/libfinalloc-malloc.a \
		$(INST_INC)/finalloc.h $(INST_INC)/finalloc.hpp \
		$(addprefix $(INST_INC)/finalloc/,$(notdir $(PUB_HDRS))) \
		$(INST_INC)/linux/finalloc.h $(INST_BIN)/finalloc $(MAN_DEST) \
		$(INST_PC)/finalloc.pc $(INST_UDEV)/70-finalloc.rules \
		$(INST_UNIT)/finalloc-reserve.service
	-rmdir $(INST_INC)/finalloc

# Install into a scratch DESTDIR, build and run a program against it alone,
# uninstall, and check nothing is left.
check-install: all
	$(Q)scripts/check-install.sh $(B)

# The Debian packages from debian/, built in a copy of the tree: $(B)/deb/*.deb.
deb:
	$(Q)scripts/deb.sh $(B)/deb

# Build, lintian, and (as root) install, use, purge the packages.
check-deb:
	$(Q)B=$(B) scripts/check-deb.sh $(B)/deb

format:
	clang-format -i $$(find $(C_TREES) \( -name '*.[ch]' -o -name '*.[ch]pp' \) -not -path 'include/uapi/*')

check-format:
	$(Q)scripts/check-format.sh

check-layers: lib $(BIN)
	$(Q)scripts/check-layers.sh $(B)

checkpatch: $(KSFT)
	$(Q)scripts/checkpatch.sh

deps:
	scripts/deps.sh

clean:
	rm -rf $(B) bin
	rm -f kmod/*.o kmod/*.ko kmod/*.mod* kmod/.*.cmd

help:
	@echo "all      libfinalloc.a/.so, the malloc drop-in, bin/finalloc, finalloc.ko (if kernel headers)"
	@echo "malloc   the drop-in: libfinalloc-malloc.so.0 (LD_PRELOAD) and libfinalloc-malloc.a"
	@echo "run      build and run ./bin/finalloc (host report, quick benchmark)"
	@echo "check    every test: host, ASan+UBSan, TSan, checkpatch, man, format, layers, install, examples, deb, VM on 6.1 and 6.12"
	@echo "check-host / check-san / check-memcheck / check-vm / checkpatch / check-format / check-layers / check-install / check-examples / check-deb   parts of check"
	@echo "examples build the programs of examples/ (check-examples runs them)"
	@echo "bench    side-by-side benchmark against glibc/jemalloc/tcmalloc/mimalloc"
	@echo "install  PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) (uninstall the same; check-install tests both)"
	@echo "kmod     the module, KDIR=/path/to/kernel/build to pick the kernel"
	@echo "deb      Debian packages in $(B)/deb (check-deb: lintian, install, use, purge)"

# $(B)/deb holds the package build's copy of the tree: not ours.
-include $(shell find $(B) -path $(B)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
