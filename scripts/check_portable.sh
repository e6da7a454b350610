#!/usr/bin/env bash
# Checks the portable build: a binary built for the next older target than the default one (haswell,
# AVX2 + FMA, below an AVX-512 default; x86-64 below a haswell default) runs on an emulated CPU
# without the default's instruction set (qemu-user) and gives the same cell as the default build,
# within float tolerance. Usage: scripts/check_portable.sh   (from the repository root; needs qemu-user)
set -euo pipefail
cd "$(dirname "$0")/.."
default=$(scripts/host_cpu.sh)
case "$default" in
    skylake-avx512) portable=haswell; emulated=Haswell ;;
    haswell) portable=x86-64; emulated=Westmere ;;
    *) echo "check-portable: the default build already targets $default; nothing older to check"; exit 0 ;;
esac
make release CPU="$default" >/dev/null
make release CPU="$portable" BUILD_DIR=".build-$portable" >/dev/null
cell=(train --model lenet-4-8 --synthetic --synthetic-count 600 --lr 0.1 --batch 16 --seed 3
      --warm-epochs 0.5 --burn-in-steps 30 --measure-steps 60 --calibration-probes 4 --json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.build/release/thermosweep "${cell[@]}" > "$tmp/default.json"
timeout 300 qemu-x86_64 -cpu "$emulated" ".build-$portable/release/thermosweep" "${cell[@]}" \
    > "$tmp/portable.json" 2> "$tmp/qemu.err" || { cat "$tmp/qemu.err" >&2; exit 1; }
python3 - "$tmp/default.json" "$tmp/portable.json" "$default" "$portable" "$emulated" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
default, portable, emulated = sys.argv[3:6]
worst = 0.0
def compare(x, y, path):
    global worst
    if isinstance(x, dict):
        assert x.keys() == y.keys(), f"{path}: keys differ"
        for k in x:
            if k not in ("samplesPerSecond", "wallSeconds"):
                compare(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, list):
        assert len(x) == len(y), f"{path}: lengths differ"
        for i, (u, v) in enumerate(zip(x, y)):
            compare(u, v, f"{path}[{i}]")
    elif isinstance(x, float) or isinstance(y, float):
        rel = abs(x - y) / max(abs(x), abs(y), 1e-30)
        worst = max(worst, rel)
        assert rel < 1e-3, f"{path}: {x} vs {y} (relative {rel:.2e})"
    else:
        assert x == y, f"{path}: {x!r} vs {y!r}"
compare(a, b, "cell")
print(f"portable build ({portable}, on an emulated {emulated}) matches the default build ({default}): "
      f"worst relative difference {worst:.1e}")
PY
