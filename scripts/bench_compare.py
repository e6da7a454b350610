#!/usr/bin/env python3
"""`thermosweep bench` against PyTorch (scripts/bench_reference.py), side by side in one run.

For each (model, batch) it times thermosweep, then PyTorch in both layouts (NCHW and channels-last),
one row at a time and alternating which goes first, so that both see the same machine load. It
prints ours / PyTorch's faster layout, our GFLOP/s as % of the FP32 peak thermosweep measured, and,
for a layer list that spells out a built-in model given in the same run, the ratio list / name.

    make bench-compare BENCH_ARGS="--models cifar-cnn --batches 32,128"
    scripts/bench_compare.py --rounds 7 --models cifar-cnn --batches 32,128
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
# The ratio and peak bars hold for this network on its input (at any batch; as a layer list too);
# other rows are for information.
BAR_MODEL, BAR_INPUT = "cifar-cnn", "3x32x32"


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
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every row this many times, in fresh processes (default 1); PyTorch's "
                             "speed moves between processes by up to a third here, so give 5 or more")
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

    rounds = args.rounds
    if rounds < 1:
        parser.error(f"--rounds {args.rounds}: give 1 or more")
    measured = {}  # (model, batch) -> [(ours row, nchw row, channels-last row, peak)], one per round
    pairs_in_order = [(m, b) for m in models for b in batches]
    for i, (model, batch) in enumerate(p for _ in range(rounds) for p in pairs_in_order):
        ours_command = [args.binary, "bench", "--json", "--no-gemm", "--batches", batch] + timing + shape
        theirs_command = [args.python, os.path.join(HERE, "bench_reference.py"), "--json", "--layouts", "both",
                          "--batches", batch] + timing + shape
        # Alternate which goes first, row after row and round after round, so that neither always
        # meets the same state of the machine.
        round_number, row_number = divmod(i, len(pairs_in_order))
        if (row_number + round_number) % 2 == 0:
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
        measured.setdefault((model, batch), []).append((row, nchw, last, ours["peak_gflops"]))
        print(f"measured {model} batch {batch} (round {round_number + 1} of {rounds})", file=sys.stderr)

    def median_row(rows: list, ratios: list) -> dict:
        merged = dict(rows[0])
        for key in ("images_per_s", "peak_percent"):
            if key in merged:
                merged[key] = statistics.median(r[key] for r in rows)
        merged["cpu_share"] = min(r["cpu_share"] for r in rows)
        merged["ratios"] = ratios
        return merged

    # Each round's ratio pairs measurements taken back to back; the table gives medians over rounds.
    results = []  # (model, batch, ours row, nchw row, channels-last row, peak)
    for (model, batch), runs in measured.items():
        ratios = sorted(r[0]["images_per_s"] / max(r[1]["images_per_s"], r[2]["images_per_s"]) for r in runs)
        results.append((model, int(batch), median_row([r[0] for r in runs], ratios),
                        median_row([r[1] for r in runs], ratios), median_row([r[2] for r in runs], ratios),
                        statistics.median(r[3] for r in runs)))

    peak = statistics.median(r[5] for r in results)
    lists = [m for m in dict.fromkeys(models) if m not in reference.BUILT_INS]
    label = {m: (m if m in reference.BUILT_INS else f"list{lists.index(m) + 1}") for m in models}
    print(f"ours:    {ours['framework']}")
    print(f"peak:    {peak:.1f} GFLOP/s FP32 (median over rows)")
    print(f"PyTorch: {theirs['framework']}, one thread")
    for m in lists:
        print(f"{label[m]}: {reference.canonical(m)}")
    print()
    print(f"{'model':<10} {'batch':>5}  {'ours img/s':>10}  {'NCHW img/s':>10}  {'NHWC img/s':>10}"
          f"  {'ours/best':>9} {'% peak':>6}" + ("     range" if rounds > 1 else ""))
    below = []
    for model, batch, row, nchw, last, _ in results:
        ratio = statistics.median(row["ratios"])
        contended = min(row["cpu_share"], nchw["cpu_share"], last["cpu_share"]) < reference.CONTENDED
        print(f"{label[model]:<10} {batch:>5}  {row['images_per_s']:>10,.0f}  {nchw['images_per_s']:>10,.0f}"
              f"  {last['images_per_s']:>10,.0f}  {ratio:>9.2f} {row['peak_percent']:>6.0f}"
              + (f" {row['ratios'][0]:.2f}-{row['ratios'][-1]:.2f}" if rounds > 1 else ""))
        if contended:
            print(f"{'':<10} ^ a process got less than 90 % of a core: another one shared it")
        barred = model == BAR_MODEL or (
            model not in reference.BUILT_INS and row["input"] == BAR_INPUT
            and reference.canonical(model) == reference.canonical(reference.BUILT_INS[BAR_MODEL]))
        if barred and ratio < BAR_RATIO:
            below.append(f"{label[model]} batch {batch}: ours/PyTorch {ratio:.2f} < {BAR_RATIO}")
        if barred and row["peak_percent"] < BAR_PEAK:
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
    if rounds > 1:
        print(f"Over {rounds} rounds: each figure is the median of the rounds, ours/best the median of")
        print("each round's ratio (measured back to back), range its min-max.")
    print(f"bars: {BAR_MODEL} ours/best >= {BAR_RATIO} and % peak >= {BAR_PEAK:.0f}, list/name within "
          f"{BAR_LIST:.0%}: "
          + ("all met" if not below else f"{len(below)} missed"))
    for line in below:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
