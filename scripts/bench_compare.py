#!/usr/bin/env python3
"""`thermosweep bench` against PyTorch (scripts/bench_reference.py), side by side in one run.

For each (model, batch) it times thermosweep, then PyTorch in both layouts (NCHW and channels-last),
one row at a time and alternating which goes first, so that both see the same machine load. It
prints ours / PyTorch's faster layout, our GFLOP/s as % of the FP32 peak thermosweep measured, and,
for a layer list that spells out a built-in model given in the same run, the ratio list / name.

    make bench-compare BENCH_ARGS="--models cifar-cnn --batches 32,128"
    scripts/bench_compare.py --binary .build/release/thermosweep --models cifar-cnn,lenet-8-16 \
        --model conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10 --batches 32

Run it on a quiet machine: a row whose cpu share is under 90 % was slowed by other processes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The bars (README, Speed): ours / PyTorch, % of peak, a layer list within 5 % of its built-in name.
BAR_RATIO, BAR_PEAK, BAR_LIST = 1.5, 50.0, 0.05


def run_json(command: list) -> dict:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bench_compare: {' '.join(command)} failed (exit {result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description="thermosweep bench against PyTorch, interleaved per row.")
    parser.add_argument("--binary", default=os.path.join(HERE, "..", ".build", "release", "thermosweep"),
                        help="the thermosweep binary (default: .build/release/thermosweep)")
    parser.add_argument("--python", default=sys.executable, help="python with torch (default: this one)")
    parser.add_argument("--models", default=None, help="comma-separated built-in models (default: cifar-cnn)")
    parser.add_argument("--model", action="append", default=[], metavar="LIST",
                        help="a layer list or built-in name to add (repeatable)")
    parser.add_argument("--batches", default="32,128", help="comma-separated batch sizes (default: 32,128)")
    parser.add_argument("--input", default=None, metavar="CxHxW", help="input images for every model")
    parser.add_argument("--seconds", default="0.5", help="seconds per repetition (default 0.5)")
    parser.add_argument("--repetitions", default="5", help="repetitions per row (default 5)")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        parser.error(f"--binary {args.binary}: no such executable; build it first (make release)")

    sys.path.insert(0, HERE)
    import bench_reference as reference  # noqa: E402  (after the path; imports torch)

    models = [m.strip() for m in (args.models or ("" if args.model else "cifar-cnn")).split(",") if m.strip()]
    models += args.model
    batches = [b.strip() for b in args.batches.split(",") if b.strip()]
    timing = ["--seconds", args.seconds, "--repetitions", args.repetitions]
    shape = ["--input", args.input] if args.input else []

    def selection(model: str) -> list:
        return ["--models", model] if model in reference.BUILT_INS else ["--model", model]

    results = []  # (model, batch, ours row, nchw row, channels-last row, peak)
    for i, (model, batch) in enumerate((m, b) for m in models for b in batches):
        ours_command = [args.binary, "bench", "--json", "--no-gemm", "--batches", batch] + timing + shape
        theirs_command = [args.python, os.path.join(HERE, "bench_reference.py"), "--json", "--layouts", "both",
                          "--batches", batch] + timing + shape
        # Alternate which goes first, so that neither always meets the same state of the machine.
        if i % 2 == 0:
            ours = run_json(ours_command + selection(model))
            theirs = run_json(theirs_command + selection(model))
        else:
            theirs = run_json(theirs_command + selection(model))
            ours = run_json(ours_command + selection(model))
        row = next(r for r in ours["rows"] if r["mode"] == "train")
        nchw, last = theirs["rows"]
        for other in (nchw, last):
            if (other["parameters"], other["input"]) != (row["parameters"], row["input"]):
                sys.exit(f"bench_compare: {model}: thermosweep has {row['parameters']} parameters on "
                         f"{row['input']}, PyTorch {other['parameters']} on {other['input']}: not the same network")
        results.append((model, int(batch), row, nchw, last, ours["peak_gflops"]))
        print(f"measured {model} batch {batch}", file=sys.stderr)

    peak = statistics.median(r[5] for r in results)
    lists = [m for m in dict.fromkeys(models) if m not in reference.BUILT_INS]
    label = {m: (m if m in reference.BUILT_INS else f"list{lists.index(m) + 1}") for m in models}
    print(f"ours:    {ours['framework']}, peak {peak:.1f} GFLOP/s FP32 (median over rows)")
    print(f"PyTorch: {theirs['framework']}, one thread")
    for m in lists:
        print(f"{label[m]}: {reference.canonical(m)}")
    print()
    print(f"{'model':<10}  {'batch':>5}  {'ours img/s':>10}  {'NCHW img/s':>10}  {'NHWC img/s':>10}"
          f"  {'ours/best':>9}  {'% peak':>6}")
    below = []
    for model, batch, row, nchw, last, _ in results:
        best = max(nchw["images_per_s"], last["images_per_s"])
        ratio = row["images_per_s"] / best
        contended = min(row["cpu_share"], nchw["cpu_share"], last["cpu_share"]) < reference.CONTENDED
        print(f"{label[model]:<10}  {batch:>5}  {row['images_per_s']:>10,.0f}  {nchw['images_per_s']:>10,.0f}"
              f"  {last['images_per_s']:>10,.0f}  {ratio:>9.2f}  {row['peak_percent']:>6.0f}"
              + ("  (cpu < 90 %)" if contended else ""))
        if ratio < BAR_RATIO:
            below.append(f"{label[model]} batch {batch}: ours/PyTorch {ratio:.2f} < {BAR_RATIO}")
        if row["peak_percent"] < BAR_PEAK:
            below.append(f"{label[model]} batch {batch}: {row['peak_percent']:.0f} % of peak < {BAR_PEAK:.0f} %")

    # A layer list against the built-in name it spells out, on the same input and batch.
    pairs = []
    for model, batch, row, *_ in results:
        if model in reference.BUILT_INS:
            continue
        for name, other_batch, other, *_ in results:
            if (name in reference.BUILT_INS and other_batch == batch and other["input"] == row["input"]
                    and reference.canonical(reference.BUILT_INS[name]) == reference.canonical(model)):
                pairs.append((label[model], name, batch, row["images_per_s"] / other["images_per_s"]))
    if pairs:
        print(f"\n{'list':<6}  {'vs':<10}  {'batch':>5}  {'list/name':>9}")
        for list_label, name, batch, ratio in pairs:
            print(f"{list_label:<6}  {name:<10}  {batch:>5}  {ratio:>9.3f}")
            if abs(ratio - 1) > BAR_LIST:
                below.append(f"{list_label} vs {name} batch {batch}: {ratio:.3f}, not within {BAR_LIST:.0%}")
    print("\nours/best: our images/s / PyTorch's faster layout. % peak: our training GFLOP/s")
    print("(thermosweep bench's legend) / the peak it measured in the same call.")
    print(f"bars: ours/best >= {BAR_RATIO}, % peak >= {BAR_PEAK:.0f}, list/name within {BAR_LIST:.0%}: "
          + ("all met" if not below else f"{len(below)} missed"))
    for line in below:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
