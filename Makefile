# minik8s — one hand-written Makefile (redis, iproute2 style).
# Sources are picked up per package directory (pkg/<name>/*.c): each package is a
# directory, so the directory listing is the source list and parallel work on
# packages never edits the same line here.

# make SAN=1 [GOALS]: the same goals (all, check, ...) built with ASan + UBSan into
# build-san/, a tree of symlinks to the sources with its own build/, so sanitized
# objects never mix with build/. Run a suite under it with build-san/tests/run.sh
# NAME, or point an e2e script at the binary: MINIK8S=build-san/build/minik8s.
ifeq ($(SAN),1)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_GOALS = $(filter-out san,$(or $(MAKECMDGOALS),all))
.PHONY: san $(SAN_GOALS)
.DEFAULT_GOAL := san
san:
	@mkdir -p build-san
	@for d in Makefile cmd pkg include proto tests bench scripts examples vagrant; do \
		ln -sfn ../$$d build-san/$$d; done
	+CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" $(MAKE) -C build-san SAN= $(SAN_GOALS)
$(SAN_GOALS): san ; @:
else

CC       ?= cc
PKGS_LIB  = sqlite3 libmicrohttpd libcjson libcurl yaml-0.1 libprotobuf-c gnutls libarchive libnl-3.0 libnl-route-3.0 libnftnl libmnl zlib libpq libbpf
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
            -Iinclude -Ibuild/gen -MMD -MP $(shell pkg-config --cflags $(PKGS_LIB))
LDLIBS   += $(shell pkg-config --libs $(PKGS_LIB)) -lpthread
CHECK_LIBS = $(shell pkg-config --libs check)

PACKAGES  = util store etcd api apiserver client image net runtime controller agent proxy netpol dns ws trace
PROTO_GEN = build/gen/k8s.pb-c.c
LIB_SRC   = $(foreach p,$(PACKAGES),$(wildcard pkg/$(p)/*.c))
LIB_OBJ   = $(patsubst %.c,build/%.o,$(LIB_SRC)) build/gen/k8s.pb-c.o
CMD_SRC   = $(wildcard cmd/minik8s/*.c)
CMD_OBJ   = $(patsubst %.c,build/%.o,$(CMD_SRC))
UNIT_DIRS = $(sort $(dir $(wildcard tests/unit/*/*.c)))
UNIT_BINS = $(patsubst tests/unit/%/,build/tests/unit-%,$(UNIT_DIRS))
TEST_HELPERS = $(patsubst %.c,build/%,$(wildcard tests/lib/*.c))
BENCH_BINS = $(patsubst %.c,build/%,$(wildcard bench/*/*.c))

.PHONY: all check bench asan format clean install
all: build/minik8s $(UNIT_BINS) $(TEST_HELPERS) $(BENCH_BINS)

build/libminik8s.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/minik8s: $(CMD_OBJ) build/libminik8s.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) build/libminik8s.a $(LDLIBS)

# the per-container shim: its own small executable, libc only (cmd/minik8s-shim,
# pkg/runtime/shimlib.c); the agent finds it beside build/minik8s
SHIM_OBJ = build/cmd/minik8s-shim/main.o build/pkg/runtime/shimlib.o
build/minik8s-shim: $(SHIM_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SHIM_OBJ)
build/minik8s: build/minik8s-shim

build/%.o: %.c $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# protobuf-c code for the subset of Kubernetes messages kubectl sends (proto/k8s.proto)
$(PROTO_GEN): proto/k8s.proto
	@mkdir -p build/gen
	protoc-c --proto_path=proto --c_out=build/gen proto/k8s.proto

# the /ui/ page's files are embedded with .incbin (pkg/apiserver/ui_assets.c)
build/pkg/apiserver/ui_assets.o: $(wildcard pkg/apiserver/ui/*)

# the socket LB's eBPF programs (clang -target bpf), embedded with .incbin
# (pkg/proxy/socklb.c)
BPF_CFLAGS = -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell gcc -print-multiarch) -Ipkg/proxy/bpf
build/gen/socklb.bpf.o: pkg/proxy/bpf/socklb.bpf.c pkg/proxy/bpf/socklb.h
	@mkdir -p build/gen
	clang $(BPF_CFLAGS) -c -o $@ $<
build/pkg/proxy/socklb.o: build/gen/socklb.bpf.o

build/gen/k8s.pb-c.o: $(PROTO_GEN)
	$(CC) $(filter-out -Werror -Wextra,$(CFLAGS)) -c -o $@ $<

unit_objs = $(patsubst %.c,build/%.o,$(wildcard tests/unit/$(1)/*.c))
.SECONDEXPANSION:
build/tests/unit-%: $$(call unit_objs,$$*) build/libminik8s.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) build/libminik8s.a $(LDLIBS) $(CHECK_LIBS)

build/tests/lib/%: tests/lib/%.c build/libminik8s.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libminik8s.a $(LDLIBS)

build/bench/%: bench/%.c build/libminik8s.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libminik8s.a $(LDLIBS)

check: all
	tests/run.sh

bench: all
	bench/run.sh

# the whole suite under ASan + UBSan, built apart in build-san/ (see SAN=1 above)
asan:
	$(MAKE) SAN=1 check

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: build/minik8s build/minik8s-shim
	install -D -m 0755 build/minik8s $(DESTDIR)/usr/local/bin/minik8s
	install -D -m 0755 build/minik8s-shim $(DESTDIR)/usr/local/bin/minik8s-shim

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- fuzzing: libFuzzer harnesses tests/fuzz/fuzz_*.c with ASan + UBSan ----------
# The library is built with clang's coverage instrumentation into build-fuzz/ (a
# symlink tree as for SAN=1), each harness is linked against it, then
# tests/fuzz/run.sh runs them one after the other from their seed corpora
# tests/fuzz/corpus-NAME. make fuzz FUZZ_RUNS=N (default 1000000 executions each).
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_RUNS ?= 1000000
.PHONY: fuzz fuzz-build build-fuzz/build/libminik8s.a
fuzz: fuzz-build
	tests/fuzz/run.sh -runs=$(FUZZ_RUNS)

fuzz-build: $(FUZZ_BINS)

build-fuzz/build/libminik8s.a:
	@mkdir -p build-fuzz
	@for d in Makefile cmd pkg include proto tests bench scripts examples; do \
		ln -sfn ../$$d build-fuzz/$$d; done
	+CC=clang CFLAGS="-O1 -g $(FUZZ_FLAGS)" $(MAKE) -C build-fuzz build/libminik8s.a

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/build/libminik8s.a
	clang -g -O1 $(subst fuzzer-no-link,fuzzer,$(FUZZ_FLAGS)) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
		-Werror -Wno-unused-parameter -Iinclude -Ibuild-fuzz/build/gen \
		$(shell pkg-config --cflags $(PKGS_LIB)) -o $@ $< build-fuzz/build/libminik8s.a $(LDLIBS)

endif
