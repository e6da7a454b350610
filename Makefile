# ThermoSweep. `make test` and `make run` work on a fresh Debian 12 machine: they install what is
# missing first. The release build targets CPU (default: the widest that this machine runs, from
# scripts/host_cpu.sh: skylake-avx512, the AVX-512 subset of Skylake-X, Ice Lake, Sapphire Rapids
# and Zen 4 or newer; else haswell, AVX2 + FMA; else x86-64); the binary refuses to start on a
# processor without it and says how to build for that one (`make release CPU=haswell` for AVX2 +
# FMA, `CPU=x86-64` for any x86-64). Names are LLVM's (`swiftc -target-cpu help` lists them).
CPU ?= $(shell scripts/host_cpu.sh)
SWIFT ?= swift
# A build for another CPU belongs in its own folder: make release CPU=haswell BUILD_DIR=.build-haswell
BUILD_DIR ?= .build
BIN := $(BUILD_DIR)/release/thermosweep
APT_PACKAGES := libzmq3-dev zlib1g-dev pkg-config dataset-fashion-mnist
# Tests also run the binary on an emulated CPU without AVX-512.
APT_TEST_PACKAGES := qemu-user python3 python3-pyte python3-zmq
# Target CPUs without FMA: the kernels then multiply and add separately instead of calling fmaf.
NO_FMA_CPUS := x86-64 core2 nehalem corei7 westmere sandybridge corei7-avx ivybridge core-avx-i
# Target CPUs with AVX-512 (32 vector registers): the kernels use their wider register tiles.
AVX512_CPUS := skylake-avx512 skx cascadelake cooperlake icelake-server icelake-client tigerlake \
	rocketlake sapphirerapids emeraldrapids graniterapids znver4 znver5
SWIFT_FLAGS := -c release --scratch-path $(BUILD_DIR) -Xswiftc -target-cpu -Xswiftc $(CPU) -Xcc -DTS_BUILD_CPU=$(CPU) \
	$(if $(filter $(CPU),$(NO_FMA_CPUS)),,-Xswiftc -DTS_FMA) \
	$(if $(filter $(CPU),$(AVX512_CPUS)),-Xswiftc -DTS_AVX512,)

.PHONY: deps test-deps apt-install build release test run bench bench-compare check-portable clean

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES) $(APT_TEST_PACKAGES)"

# Installs the Debian packages in PACKAGES that are not installed yet.
apt-install:
	@missing=""; for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build --scratch-path $(BUILD_DIR)

release: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: test-deps
	$(SWIFT) test $(SWIFT_FLAGS)

# The main job: the default grid (η 0.0125…0.2 × |B| 8…128, 3 seeds) on Fashion-MNIST with one local
# worker per core. Re-running it resumes (or, when finished, only prints the results).
RUN_DB ?= runs/fmnist/sweep.sqlite
WORKERS ?= $(shell nproc)
run: release
	$(BIN) sweep --db $(RUN_DB) --local-workers $(WORKERS)

bench: release
	$(BIN) bench

# thermosweep bench against PyTorch (scripts/bench_reference.py; needs torch), interleaved per row:
# ours / PyTorch's faster layout, % of peak, a layer list / its built-in name.
BENCH_ARGS ?= --models cifar-cnn --batches 32,128
PYTHON ?= python3
bench-compare: release
	$(PYTHON) scripts/bench_compare.py --binary $(BIN) $(BENCH_ARGS)

# The portable build (CPU=haswell) on an emulated Haswell gives the same cell as the default build.
check-portable: test-deps
	scripts/check_portable.sh

clean:
	rm -rf .build .build-haswell
