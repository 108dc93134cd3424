# Thin front over CMake. `make demo` and `make check` are the two commands a
# newcomer needs; each installs what is missing first (scripts/bootstrap).
# The build tree is CMake's own make; its directory chatter says nothing here.
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
# Tests wait on daemons, disks and timers: with one test per core a fifth of
# the CPU sat idle through the suite, and with half as many again still a
# sixth (a clean-clone run on 2 cores: 2,072 CPU-seconds in 1,236 s), so
# CTest runs two tests per core.
TEST_JOBS ?= $(shell echo $$(( $$(nproc) * 2 )))
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all bootstrap build build-asan check demo bench fuzz clean

all: build

bootstrap:
	@scripts/bootstrap

RELEASE_CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLISEC_TEST_HOOKS=ON
build: bootstrap
	@$(RELEASE_CONFIGURE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

ASAN_CONFIGURE = cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLISEC_SANITIZE=ON -DLISEC_TEST_HOOKS=ON
build-asan: bootstrap
	@$(ASAN_CONFIGURE) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite twice: the release build, then under ASan+UBSan. The last
# line printed is CTest's summary of the sanitizer run. Two things that
# nothing needs before the tests start beside the release build, at a lower
# CPU priority: the sanitizer tree's compile (nice 19), which so takes the
# CPU the release build leaves idle (its configure step, its serial links)
# and then what the release tests leave (they wait on daemons, disks and
# timers), its output in $(ASAN_BUILD)/build.log, shown if it fails; and
# tools/'s npm ci (scripts/bootstrap --tools, nice 10, $(BUILD)/tools.log),
# which waits on the registry for 15-35 s with little CPU: run first, it
# held up the build by as much. An allocation's stack is kept 8 frames deep
# (ASan's default is 30): reports still name where memory came from, and
# malloc-heavy tests run a third faster.
check:
	@scripts/bootstrap --packages
	@mkdir -p $(BUILD) $(ASAN_BUILD)
	@echo "compiling the sanitizer build beside the release build and tests ($(ASAN_BUILD)/build.log)"
	@setsid -w nice -n 10 scripts/bootstrap --tools >$(BUILD)/tools.log 2>&1 & tools=$$!; \
	  setsid -w nice -n 19 sh -c '$(ASAN_CONFIGURE) && cmake --build $(ASAN_BUILD) -j $(JOBS)' \
	    >$(ASAN_BUILD)/build.log 2>&1 & asan=$$!; \
	  trap 'kill -- -$$asan -$$tools 2>/dev/null' EXIT; \
	  $(RELEASE_CONFIGURE) >/dev/null && cmake --build $(BUILD) -j $(JOBS) || exit 1; \
	  wait $$tools; cat $(BUILD)/tools.log; \
	  ctest --test-dir $(BUILD) --output-on-failure -j $(TEST_JOBS) || exit 1; \
	  wait $$asan || { tail -50 $(ASAN_BUILD)/build.log; echo "the sanitizer build failed" >&2; exit 1; }; \
	  trap - EXIT; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:malloc_context_size=8 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(TEST_JOBS)

demo: build
	@scripts/demo $(BUILD)

bench: build
	@bench/run $(BUILD)

fuzz: bootstrap
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DLISEC_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
