# minik8s — one hand-written Makefile (redis, iproute2 style).
# Sources are picked up per package directory (pkg/<name>/*.c): each package is a
# directory, so the directory listing is the source list and parallel work on
# packages never edits the same line here.

CC       ?= cc
PKGS_LIB  = sqlite3 libmicrohttpd libcjson libcurl yaml-0.1 libprotobuf-c gnutls libarchive libnl-3.0 libnl-route-3.0 libnftnl libmnl zlib
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
            -Iinclude -Ibuild/gen -MMD -MP $(shell pkg-config --cflags $(PKGS_LIB))
LDLIBS   += $(shell pkg-config --libs $(PKGS_LIB)) -lpthread
CHECK_LIBS = $(shell pkg-config --libs check)

PACKAGES  = util store api apiserver client image net runtime controller agent proxy dns ws
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

build/%.o: %.c $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# protobuf-c code for the subset of Kubernetes messages kubectl sends (proto/k8s.proto)
$(PROTO_GEN): proto/k8s.proto
	@mkdir -p build/gen
	protoc-c --proto_path=proto --c_out=build/gen proto/k8s.proto

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

asan:
	$(MAKE) clean
	$(MAKE) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" all
	tests/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: build/minik8s
	install -D -m 0755 build/minik8s $(DESTDIR)/usr/local/bin/minik8s

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
