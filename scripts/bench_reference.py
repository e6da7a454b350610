#!/usr/bin/env python3
"""Reference benchmark: the ThermoSweep networks trained with PyTorch on one CPU thread.

Prints the same table as `thermosweep bench`, so the two can be run side by side.

Install and run (from the repository root):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r scripts/requirements-bench.txt \
        && .venv-bench/bin/python scripts/bench_reference.py

Options: --models lenet-8-16,cnn-32-64  --batches 8,64  --seconds 0.5  --repetitions 5  --json
         --channels-last (NHWC tensors: PyTorch's faster CPU path for these nets; default NCHW)

What is timed, per (model, batch): one training step = gather a batch from a preallocated pool of
4096 random 28x28 images (N(0, 1)) and random labels, both drawn once, in a fresh random order per
pass over the pool; forward; mean cross-entropy; backward; plain SGD step (lr 0.05, no momentum).
After a warm-up, each repetition runs steps until at least --seconds have passed;
images/s = batch * steps / seconds. The table gives the median and the min-max over repetitions;
a row is marked "(cpu N%)" when the process got less than 90% of a core while it was timed.
"""

import os

# One thread everywhere; must be set before torch (and its OpenMP / MKL runtimes) is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

FORMAT = "thermosweep-bench/1"
POOL = 4096
LEARNING_RATE = 0.05
CONTENDED = 0.9  # CPU share below which a row is flagged as slowed by other processes

# Default batches per model, as `thermosweep bench` runs them.
DEFAULT_BATCHES = {
    "lenet-8-16": [8, 16, 32, 64, 128, 256],
    "lenet-4-8": [8, 32, 128],
    "cnn-32-64": [16, 64, 256],
}

# Parameter counts from docs/METHOD.md, 2; cnn-32-64: 320 + 18,496 + 204,928 + 1,290.
EXPECTED_PARAMETERS = {"lenet-8-16": 5_994, "lenet-4-8": 2_202, "cnn-32-64": 225_034}


def lenet(c1: int, c2: int) -> nn.Module:
    # input (N, 1, 28, 28) -> conv 5x5 valid (N, c1, 24, 24) -> pool (N, c1, 12, 12)
    # -> conv 5x5 valid (N, c2, 8, 8) -> pool (N, c2, 4, 4) -> flatten (N, 16 c2) -> logits (N, 10)
    return nn.Sequential(
        nn.Conv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 4 * 4, 10),
    )


def cnn_32_64() -> nn.Module:
    # input (N, 1, 28, 28) -> conv 3x3 (N, 32, 26, 26) -> pool (N, 32, 13, 13)
    # -> conv 3x3 (N, 64, 11, 11) -> pool (N, 64, 5, 5) -> flatten (N, 1600) -> (N, 128) -> (N, 10)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def build(name: str) -> nn.Module:
    if name == "lenet-8-16":
        model = lenet(8, 16)
    elif name == "lenet-4-8":
        model = lenet(4, 8)
    elif name == "cnn-32-64":
        model = cnn_32_64()
    else:
        raise ValueError(f"unknown model {name!r}")
    count = sum(p.numel() for p in model.parameters())
    assert count == EXPECTED_PARAMETERS[name], f"{name}: {count} parameters, expected {EXPECTED_PARAMETERS[name]}"
    return model


def measure(name: str, batch: int, seconds: float, repetitions: int, warmup: float,
            channels_last: bool = False) -> dict:
    torch.manual_seed(0)
    model = build(name)
    model.train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.0)
    generator = torch.Generator().manual_seed(1)
    # pool (POOL, 1, 28, 28), labels (POOL,): drawn once, before any timing.
    pool_x = torch.randn(POOL, 1, 28, 28, generator=generator)
    pool_y = torch.randint(0, 10, (POOL,), generator=generator)
    if channels_last:
        # With one input channel NCHW and NHWC hold the same bytes; this only sets the strides
        # so that the convolutions take their NHWC path.
        pool_x = pool_x.contiguous(memory_format=torch.channels_last)
    order = torch.randperm(POOL, generator=generator)
    offset = 0

    def step() -> torch.Tensor:
        nonlocal order, offset
        # A new batch every step, in a new random order per pass, gathered (copied) as a real
        # training loop does; the gather is part of the timed step.
        if offset + batch > POOL:
            order = torch.randperm(POOL, generator=generator)
            offset = 0
        index = order[offset:offset + batch]
        offset += batch
        x = pool_x.index_select(0, index)  # (batch, 1, 28, 28)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = pool_y.index_select(0, index)  # (batch,)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    # Warm-up: at least 3 steps and `warmup` seconds (allocator, oneDNN primitive caches).
    start = time.perf_counter()
    steps = 0
    while steps < 3 or time.perf_counter() - start < warmup:
        step()
        steps += 1

    rates = []
    loss = None
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repetitions):
        steps = 0
        start = time.perf_counter()
        while True:
            loss = step()
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        rates.append(batch * steps / elapsed)
    # Process CPU time / wall time: near 1 for one busy thread; well below 1 means other processes
    # took the core and the rates are too low.
    cpu_share = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
    final_loss = float(loss.item()) if loss is not None else float("nan")
    if not math.isfinite(final_loss):
        print(f"warning: {name} batch {batch}: loss is {final_loss} (timing may be off)", file=sys.stderr)
    return {
        "model": name,
        "batch": batch,
        "images_per_s": statistics.median(rates),
        "repetitions": repetitions,
        "spread": [min(rates), max(rates)],
        "cpu_share": cpu_share,
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_list(text: str, convert):
    return [convert(item.strip()) for item in text.split(",") if item.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description="PyTorch one-thread CPU reference for `thermosweep bench`.")
    parser.add_argument("--models", default=",".join(DEFAULT_BATCHES),
                        help="comma-separated models (default: %(default)s)")
    parser.add_argument("--batches", default=None,
                        help="comma-separated batch sizes for every model (default: per model, as thermosweep bench)")
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum seconds per repetition (default 0.5)")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions per row (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per row (default 0.5)")
    parser.add_argument("--channels-last", action="store_true",
                        help="NHWC memory format (PyTorch's faster CPU path here; default: NCHW, PyTorch's default)")
    parser.add_argument("--json", action="store_true", help="print one JSON record instead of the table")
    args = parser.parse_args()

    models = parse_list(args.models, str)
    for name in models:
        if name not in DEFAULT_BATCHES:
            parser.error(f"unknown model {name!r}; known: {', '.join(DEFAULT_BATCHES)}")
    batches = parse_list(args.batches, int) if args.batches else None
    if batches is not None and any(b < 1 or b > POOL for b in batches):
        parser.error(f"batches must lie in 1...{POOL}")
    if args.seconds <= 0 or args.repetitions < 1:
        parser.error("--seconds must be > 0 and --repetitions >= 1")

    framework = f"pytorch {torch.__version__}" + (" channels_last" if args.channels_last else "")
    threads = torch.get_num_threads()
    if not args.json:
        capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
        print(f"framework: {framework} (CPU capability {capability}, oneDNN {torch.backends.mkldnn.is_available()})")
        print(f"cpu:       {cpu_model()}")
        print(f"threads:   {threads} (interop {torch.get_num_interop_threads()})")
        print(f"timing:    median of {args.repetitions} repetitions of >= {args.seconds:g} s after a "
              f"{args.warmup:g} s warm-up; SGD lr {LEARNING_RATE}, pool {POOL} random images")
        print()
        print(f"{'model':<12} {'batch':>6} {'images/s':>10}   {'min–max'}")
        sys.stdout.flush()

    rows = []
    for name in models:
        for batch in (batches if batches is not None else DEFAULT_BATCHES[name]):
            row = measure(name, batch, args.seconds, args.repetitions, args.warmup, args.channels_last)
            rows.append(row)
            if not args.json:
                low, high = row["spread"]
                note = f"  (cpu {row['cpu_share']:.0%})" if row["cpu_share"] < CONTENDED else ""
                print(f"{name:<12} {batch:>6} {row['images_per_s']:>10,.0f}   {low:,.0f}–{high:,.0f}{note}")
                sys.stdout.flush()

    if not args.json and any(row["cpu_share"] < CONTENDED for row in rows):
        print(f"\n(cpu N%): this process got only N% of a core (CPU time / wall time) while timing;"
              " other processes competed and those rows understate the speed.")
    if args.json:
        for row in rows:
            del row["cpu_share"]  # not part of thermosweep-bench/1
        print(json.dumps({"format": FORMAT, "framework": framework, "threads": threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
