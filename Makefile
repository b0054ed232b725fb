# SPDX-License-Identifier: GPL-3.0-or-later
# Thin wrapper for the README's two commands (and the sanitizer run). Everything else
# is plain meson: see README.md.

BUILDDIR ?= build
SANITIZE_BUILDDIR ?= build-sanitize

# Debian 12 packages needed to build, run and test (runtime libraries come with -dev).
PACKAGES = \
	meson ninja-build pkg-config gcc libc6-dev python3 \
	libglib2.0-dev libglib2.0-dev-bin libgtk-4-dev libadwaita-1-dev libepoxy-dev \
	libopenblas-openmp-dev libjpeg62-turbo-dev libpng-dev libzip-dev \
	libcairo2-dev libpango1.0-dev \
	libprotobuf-c-dev protobuf-c-compiler libonnx-dev \
	libopenmpi-dev openmpi-bin \
	gettext desktop-file-utils appstream \
	clang libclang-rt-14-dev libomp-dev \
	xvfb xauth fonts-cantarell adwaita-icon-theme \
	qemu-user

# Warnings are errors in CI.
SETUP_FLAGS = $(if $(filter true,$(CI)),--werror,)
TEST_ENV = GTK_A11Y=none
MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps build run check check-sanitize check-cpus check-fuzz clean

all: build

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "deps: all $(words $(PACKAGES)) packages present"; \
	else \
	  echo "deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILDDIR)/build.ninja:
	meson setup $(SETUP_FLAGS) $(BUILDDIR)

build: deps $(BUILDDIR)/build.ninja
	meson compile -C $(BUILDDIR)

run: build
	meson devenv -C $(BUILDDIR) ./app/visage

check: build
	@rc=0; \
	$(TEST_ENV) xvfb-run -a $(MESON_TEST) -C $(BUILDDIR) || rc=$$?; \
	python3 tests/summary.py $(BUILDDIR)/meson-logs/testlog.json || rc=1; \
	exit $$rc

# AddressSanitizer + UndefinedBehaviorSanitizer over the headless suites.
check-sanitize: deps
	[ -f $(SANITIZE_BUILDDIR)/build.ninja ] || meson setup $(SETUP_FLAGS) \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dcuda=disabled \
	  -Dbuildtype=debug $(SANITIZE_BUILDDIR)
	meson compile -C $(SANITIZE_BUILDDIR)
	@rc=0; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MESON_TEST) -C $(SANITIZE_BUILDDIR) --suite engine --suite app --suite data || rc=$$?; \
	python3 tests/summary.py $(SANITIZE_BUILDDIR)/meson-logs/testlog.json || rc=1; \
	exit $$rc

# The kernels on processors other than this one: the engine's numeric suites under
# qemu-x86_64 (user mode) as a Haswell (AVX2 and FMA without AVX-512: the engine's AVX2
# kernels and element-wise clones, OpenBLAS's Haswell core) and as a Nehalem (SSE4.2: the
# baseline clones, OpenBLAS's Nehalem core). Whatever this machine's processor, every path
# a user's may take is run (6 minutes on 2 cores). Logs:
# $(BUILDDIR)/meson-logs/testlog-<model>-qemu-x86_64.json (meson adds the wrapper's name).
CPU_MODELS ?= Haswell Nehalem
CPU_SUITES = simd optim gemm gradcheck gradcheck-products gradcheck-baselines attention \
	conv-winograd lovasz \
	batchnorm-fold reference reference-baselines profile

check-cpus: build
	@rc=0; \
	for cpu in $(CPU_MODELS); do \
	  echo "check-cpus: $$cpu"; \
	  $(MESON_TEST) -C $(BUILDDIR) --wrapper "qemu-x86_64 -cpu $$cpu" --timeout-multiplier 20 \
	    --logbase testlog-$$cpu $(CPU_SUITES) || rc=$$?; \
	  python3 tests/summary.py $(BUILDDIR)/meson-logs/testlog-$$cpu-qemu-x86_64.json || rc=1; \
	done; \
	exit $$rc

# libFuzzer: each target of tests/fuzz for FUZZ_SECONDS (clang build in build-fuzz, seeds
# made at run time; tests/fuzz/README.md). Prints one line per target, the log on failure.
FUZZ_SECONDS ?= 5
# A fixed seed: the same inputs on every CI run of a fresh clone.
FUZZ_ARGS ?= -seed=1
export FUZZ_ARGS

check-fuzz: deps
	@rc=0; \
	for t in $$(tests/fuzz/run.sh --list); do \
	  out=$$(tests/fuzz/run.sh $$t $(FUZZ_SECONDS) 2>&1) || { rc=1; echo "$$out" | tail -n 60; }; \
	  echo "$$out" | tail -n 1; \
	done; \
	exit $$rc

clean:
	rm -rf $(BUILDDIR) $(SANITIZE_BUILDDIR)
