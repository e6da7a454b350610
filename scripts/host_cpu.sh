#!/usr/bin/env bash
# Prints the LLVM CPU name that `make release` targets by default on this machine: the widest of
# skylake-avx512 (the AVX-512 subset of Skylake-X, Ice Lake, Sapphire Rapids, Zen 4 and newer),
# haswell (AVX2 + FMA: Haswell or newer, Zen 1-3) and x86-64 that this processor runs. A binary
# for cluster nodes of another kind is built with an explicit CPU (README, "CPU targets").
set -euo pipefail
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
if has avx512f avx512bw avx512cd avx512dq avx512vl avx2 fma; then
    echo skylake-avx512
elif has avx avx2 bmi1 bmi2 f16c fma abm movbe; then
    echo haswell
else
    echo x86-64
fi
