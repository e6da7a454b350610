#!/usr/bin/env python3
"""Reference benchmark: the ThermoSweep networks trained with PyTorch on one CPU thread.

Takes the models `thermosweep bench` takes, on the same inputs, and prints the same kind of
table, so the two can be run side by side (scripts/bench_compare.py interleaves them per row).

Install and run (from the repository root):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r scripts/requirements-bench.txt \
        && .venv-bench/bin/python scripts/bench_reference.py

Options: --models lenet-8-16,cifar-cnn (built-in names)  --model LIST (a layer list, repeatable)
         --input CxHxW  --batches 8,64  --seconds 0.5  --repetitions 5  --json
         --layouts nchw|channels-last|both (default nchw; --channels-last = --layouts channels-last)
         --describe (shapes, parameters and FLOPs per model as JSON, no timing)  --self-test

Models: lenet-8-16, lenet-4-8, cnn-32-64, cifar-cnn, or a layer list of convKxK:C[:same], relu,
tanh, maxpoolK, avgpoolK, dense:N (a flatten before the first dense layer), ending in dense:10.
Input (as `thermosweep bench`): --input for every model; else cifar-cnn on 3x32x32, any other
model on 1x28x28 when it fits, else 3x32x32.

What is timed, per (model, batch, layout): one training step = gather a batch from a preallocated
pool of 4096 random images (N(0, 1)) and random labels, both drawn once, in a fresh random order
per pass over the pool; forward; mean cross-entropy; backward; plain SGD step (lr 0.05, no
momentum). After a warm-up, each repetition runs steps until at least --seconds have passed;
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
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
# `convKxK:C:same` with an even K pads one more zero after than before, as thermosweep does.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

FORMAT = "thermosweep-bench/1"
POOL = 4096
LEARNING_RATE = 0.05
CLASSES = 10
CONTENDED = 0.9  # CPU share below which a row is flagged as slowed by other processes
MAX_INPUT_VALUES = 16_384  # as `thermosweep bench --input`
LAYOUTS = {"nchw": False, "channels-last": True}

# The built-in names: aliases of layer lists (Sources/Cell/Model.swift).
BUILT_INS = {
    "lenet-8-16": "conv5x5:8,relu,maxpool2,conv5x5:16,relu,maxpool2,dense:10",
    "lenet-4-8": "conv5x5:4,relu,maxpool2,conv5x5:8,relu,maxpool2,dense:10",
    "cnn-32-64": "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:128,relu,dense:10",
    "cifar-cnn": "conv3x3:32,relu,maxpool2,conv3x3:64,relu,maxpool2,dense:128,relu,dense:10",
}
# Default batches per model, as `thermosweep bench` runs them (32 for a layer list).
DEFAULT_BATCHES = {
    "lenet-8-16": [8, 16, 32, 64, 128, 256],
    "lenet-4-8": [8, 32, 128],
    "cnn-32-64": [16, 64, 256],
    "cifar-cnn": [32, 128],
}
# Parameter counts from docs/METHOD.md, 2; cnn-32-64: 320 + 18,496 + 204,928 + 1,290;
# cifar-cnn: 896 + 18,496 + 295,040 + 1,290.
EXPECTED_PARAMETERS = {"lenet-8-16": 5_994, "lenet-4-8": 2_202, "cnn-32-64": 225_034, "cifar-cnn": 315_722}


class ModelError(ValueError):
    pass


def parse_layers(text: str) -> list:
    """The layers of a list as tuples: ("conv", K, C, same), ("relu",), ("tanh",),
    ("maxpool", K), ("avgpool", K), ("dense", N); raises ModelError naming the bad layer."""
    layers = []
    for position, item in enumerate((part.strip() for part in text.split(",")), start=1):
        m = re.fullmatch(r"conv(\d+)x(\d+):(\d+)(?::(same|valid))?", item)
        if m:
            k, k2, c = int(m[1]), int(m[2]), int(m[3])
            if k != k2 or not 1 <= k <= 15 or not 1 <= c <= 1024:
                raise ModelError(f"layer {position} '{item}' of '{text}': give a square kernel of 1 to 15 "
                                 "and 1 to 1024 channels, e.g. conv3x3:32")
            layers.append(("conv", k, c, m[4] == "same"))
        elif item in ("relu", "tanh"):
            layers.append((item,))
        elif re.fullmatch(r"(max|avg)pool\d+", item):
            layers.append((item[:7], int(item[7:])))
        elif re.fullmatch(r"dense:\d+", item):
            layers.append(("dense", int(item[6:])))
        else:
            raise ModelError(f"layer {position} '{item}' of '{text}' is not a layer: use convKxK:C[:same], "
                             "relu, tanh, maxpoolK, avgpoolK or dense:N")
    return layers


def layer_text(layer: tuple) -> str:
    if layer[0] == "conv":
        return f"conv{layer[1]}x{layer[1]}:{layer[2]}" + (":same" if layer[3] else "")
    if layer[0] in ("maxpool", "avgpool"):
        return f"{layer[0]}{layer[1]}"
    if layer[0] == "dense":
        return f"dense:{layer[1]}"
    return layer[0]


def canonical(model: str) -> str:
    """A built-in name as it is, a layer list in the canonical spelling `thermosweep` records."""
    if model in BUILT_INS:
        return model
    return ",".join(layer_text(layer) for layer in parse_layers(model))


def parse_input(text: str) -> tuple:
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ModelError(f"--input '{text}': give channels, height and width as CxHxW, e.g. 3x32x32")
    shape = tuple(int(p) for p in parts)
    if math.prod(shape) > MAX_INPUT_VALUES:
        raise ModelError(f"--input '{text}' has {math.prod(shape)} values per image: "
                         f"give at most {MAX_INPUT_VALUES}, e.g. 3x64x64")
    return shape


def shape_text(shape: tuple) -> str:
    return "x".join(str(n) for n in shape)


def build(model: str, shape: tuple) -> nn.Sequential:
    """The model as an nn.Sequential on (C, H, W) images; raises ModelError when it does not fit."""
    layers = parse_layers(BUILT_INS.get(model, model))
    modules = []
    current = shape  # (C, H, W) or (N,) after a dense layer
    for position, layer in enumerate(layers, start=1):
        where = f"layer {position} '{layer_text(layer)}' of model {model} (input {shape_text(current)})"
        kind = layer[0]
        if kind in ("conv", "maxpool", "avgpool") and len(current) != 3:
            raise ModelError(f"{where} needs an image input: put conv and pool layers before the dense ones")
        if kind == "conv":
            _, k, oc, same = layer
            c, h, w = current
            if not same and (k > h or k > w):
                raise ModelError(f"{where} has a kernel larger than its input")
            modules.append(nn.Conv2d(c, oc, k, padding="same" if same else 0))
            current = (oc, h, w) if same else (oc, h - k + 1, w - k + 1)
        elif kind in ("maxpool", "avgpool"):
            k = layer[1]
            c, h, w = current
            if k > h or k > w:
                raise ModelError(f"{where} pools windows larger than its input")
            modules.append(nn.MaxPool2d(k) if kind == "maxpool" else nn.AvgPool2d(k))
            current = (c, h // k, w // k)
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "tanh":
            modules.append(nn.Tanh())
        else:
            if len(current) == 3:
                modules.append(nn.Flatten())
            modules.append(nn.Linear(math.prod(current), layer[1]))
            current = (layer[1],)
    if not layers or layers[-1][0] != "dense" or layers[-1][1] != CLASSES:
        raise ModelError(f"model {model} must end with dense:{CLASSES} for the {CLASSES} classes")
    net = nn.Sequential(*modules)
    if model in EXPECTED_PARAMETERS and shape == ((3, 32, 32) if model == "cifar-cnn" else (1, 28, 28)):
        count = parameter_count(net)
        assert count == EXPECTED_PARAMETERS[model], f"{model}: {count} parameters, expected {EXPECTED_PARAMETERS[model]}"
    return net


def fits(model: str, shape: tuple) -> bool:
    try:
        build(model, shape)
        return True
    except ModelError:
        return False


def default_input(model: str) -> tuple:
    """The images `thermosweep bench` times a model on without --input (BenchCommand.input(for:))."""
    if model == "cifar-cnn":
        return (3, 32, 32)
    return (1, 28, 28) if fits(model, (1, 28, 28)) else (3, 32, 32)


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def describe(model: str, shape: tuple) -> dict:
    """Shapes, parameters and training FLOPs per image, counted from a forward pass of one image:
    forward conv 2*K*K*C*OC*OH*OW and dense 2*in*out, x3 (forward, weight and input gradient),
    x2 for the first layer with weights (its input needs no gradient)."""
    net = build(model, shape)
    outputs, forward = [], []
    for module in net:
        def hook(m, inputs, output):
            outputs.append(tuple(output.shape[1:]))
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1]
                forward.append(2 * k * m.in_channels * m.out_channels * output.shape[2] * output.shape[3])
            elif isinstance(m, nn.Linear):
                forward.append(2 * m.in_features * m.out_features)
        module.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, *shape))
    flops = sum(f * (2 if i == 0 else 3) for i, f in enumerate(forward))
    return {"model": canonical(model), "input": shape_text(shape), "parameters": parameter_count(net),
            "flops_per_image": flops, "outputs": [shape_text(o) for o in outputs]}


def measure(model: str, shape: tuple, batch: int, seconds: float, repetitions: int, warmup: float,
            channels_last: bool = False) -> dict:
    torch.manual_seed(0)
    net = build(model, shape)
    net.train()
    memory = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory)
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE, momentum=0.0)
    generator = torch.Generator().manual_seed(1)
    # pool (POOL, C, H, W), labels (POOL,): drawn once, before any timing.
    pool_x = torch.randn(POOL, *shape, generator=generator).contiguous(memory_format=memory)
    pool_y = torch.randint(0, CLASSES, (POOL,), generator=generator)
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
        x = pool_x.index_select(0, index).contiguous(memory_format=memory)  # (batch, C, H, W)
        y = pool_y.index_select(0, index)  # (batch,)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
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
        print(f"warning: {model} batch {batch}: loss is {final_loss} (timing may be off)", file=sys.stderr)
    return {
        "model": canonical(model),
        "input": shape_text(shape),
        "parameters": parameter_count(net),
        "batch": batch,
        "layout": "channels-last" if channels_last else "nchw",
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


def self_test() -> int:
    """Checks parameter counts, shapes, FLOPs and the input rule against hand computations."""
    failures = []
    checks = 0

    def check(condition: bool, what: str) -> None:
        nonlocal checks
        checks += 1
        if not condition:
            failures.append(what)

    pooled = lambda c, h, w: [f"{c}x{h}x{w}", f"{c}x{h}x{w}", f"{c}x{h // 2}x{w // 2}"]  # noqa: E731
    expected = {
        # name: (input, outputs of every module, training FLOPs per image)
        "lenet-8-16": ("1x28x28", pooled(8, 24, 24) + pooled(16, 8, 8) + ["256", "10"],
                       2 * (2 * 25 * 8 * 576) + 3 * (2 * 25 * 8 * 16 * 64) + 3 * (2 * 256 * 10)),
        "lenet-4-8": ("1x28x28", pooled(4, 24, 24) + pooled(8, 8, 8) + ["128", "10"],
                      2 * (2 * 25 * 4 * 576) + 3 * (2 * 25 * 4 * 8 * 64) + 3 * (2 * 128 * 10)),
        "cnn-32-64": ("1x28x28", pooled(32, 26, 26) + pooled(64, 11, 11) + ["1600", "128", "128", "10"],
                      2 * (2 * 9 * 32 * 676) + 3 * (2 * 9 * 32 * 64 * 121) + 3 * (2 * 1600 * 128) + 3 * (2 * 128 * 10)),
        "cifar-cnn": ("3x32x32", pooled(32, 30, 30) + pooled(64, 13, 13) + ["2304", "128", "128", "10"],
                      2 * (2 * 9 * 3 * 32 * 900) + 3 * (2 * 9 * 32 * 64 * 169) + 3 * (2 * 2304 * 128)
                      + 3 * (2 * 128 * 10)),
    }
    for name, (shape, outputs, flops) in expected.items():
        d = describe(name, default_input(name))
        check(d["input"] == shape, f"{name}: input {d['input']}, expected {shape}")
        check(d["parameters"] == EXPECTED_PARAMETERS[name],
              f"{name}: {d['parameters']} parameters, expected {EXPECTED_PARAMETERS[name]}")
        check(d["outputs"] == outputs, f"{name}: outputs {d['outputs']}, expected {outputs}")
        check(d["flops_per_image"] == flops, f"{name}: {d['flops_per_image']} FLOPs, expected {flops}")
        as_list = describe(BUILT_INS[name], default_input(name))
        check((as_list["parameters"], as_list["flops_per_image"]) == (d["parameters"], d["flops_per_image"]),
              f"{name} as a layer list differs from the name")
    check(describe("cifar-cnn", (3, 32, 32))["flops_per_image"] == 23_577_600, "cifar-cnn: not 23,577,600 FLOPs")
    # Layer lists: same padding (odd and even kernels), avg pooling, tanh, a dense layer inside.
    lists = [
        ("conv3x3:8:same,relu,maxpool2,conv2x2:4,avgpool3,dense:12,tanh,dense:10", (3, 17, 13),
         ["8x17x13", "8x17x13", "8x8x6", "4x7x5", "4x2x1", "8", "12", "12", "10"],
         (8 * 3 * 9 + 8) + (4 * 8 * 4 + 4) + (12 * 8 + 12) + (10 * 12 + 10)),
        ("conv4x4:2:same,dense:10", (1, 5, 5), ["2x5x5", "50", "10"], (2 * 16 + 2) + (10 * 50 + 10)),
        ("dense:32,relu,dense:10", (1, 28, 28), ["784", "32", "32", "10"], (32 * 784 + 32) + (10 * 32 + 10)),
    ]
    for text, shape, outputs, parameters in lists:
        d = describe(text, shape)
        check(d["outputs"] == outputs, f"{text}: outputs {d['outputs']}, expected {outputs}")
        check(d["parameters"] == parameters, f"{text}: {d['parameters']} parameters, expected {parameters}")
    # The input rule, as BenchCommand.input(for:given:).
    check(default_input("cnn-32-64") == (1, 28, 28), "cnn-32-64 not on 1x28x28")
    check(default_input("conv5x5:4,maxpool2,conv5x5:4,maxpool2,conv5x5:4,dense:10") == (3, 32, 32),
          "a list that does not fit 1x28x28 not on 3x32x32")
    check(canonical("conv3x3:8:valid, relu,dense:10") == "conv3x3:8,relu,dense:10", "canonical spelling")
    for bad, words in [("conv3x3:8,relu", "must end with dense:10"), ("conv3x3:8,pool2,dense:10", "'pool2'"),
                       ("conv9x9:4,dense:10", "kernel larger than its input")]:
        try:
            build(bad, (1, 5, 5) if "conv9" in bad else (1, 28, 28))
            check(False, f"{bad}: accepted")
        except ModelError as error:
            check(words in str(error), f"{bad}: message '{error}' lacks '{words}'")
    # One training step in each layout: finite loss, logits (2, 10).
    for name in BUILT_INS:
        for channels_last in LAYOUTS.values():
            memory = torch.channels_last if channels_last else torch.contiguous_format
            net = build(name, default_input(name)).to(memory_format=memory)
            x = torch.randn(2, *default_input(name)).contiguous(memory_format=memory)
            logits = net(x)
            loss = F.cross_entropy(logits, torch.tensor([1, 2]))
            loss.backward()
            check(tuple(logits.shape) == (2, 10) and math.isfinite(loss.item()),
                  f"{name} ({'channels-last' if channels_last else 'nchw'}): logits {tuple(logits.shape)}, "
                  f"loss {loss.item()}")
    for failure in failures:
        print(f"self-test FAILED: {failure}")
    print(f"self-test: {checks - len(failures)} of {checks} checks passed")
    return 1 if failures else 0


def parse_list(text: str, convert):
    return [convert(item.strip()) for item in text.split(",") if item.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description="PyTorch one-thread CPU reference for `thermosweep bench`.")
    parser.add_argument("--models", default=None,
                        help=f"comma-separated built-in models: {', '.join(BUILT_INS)} "
                             "(default: lenet-8-16,lenet-4-8,cnn-32-64, as thermosweep bench)")
    parser.add_argument("--model", action="append", default=[], metavar="LIST",
                        help="a model to add: a built-in name or a layer list such as "
                             "conv5x5:8,relu,maxpool2,dense:10 (repeatable)")
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="input images for every model, e.g. 3x32x32 (default: cifar-cnn 3x32x32; "
                             "any other model 1x28x28, or 3x32x32 when it does not fit 1x28x28)")
    parser.add_argument("--batches", default=None,
                        help="comma-separated batch sizes for every model (default: per model, as thermosweep bench)")
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum seconds per repetition (default 0.5)")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions per row (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per row (default 0.5)")
    parser.add_argument("--layouts", choices=["nchw", "channels-last", "both"], default=None,
                        help="memory format: nchw (PyTorch's default), channels-last (NHWC), or both, "
                             "reporting each and the faster (default nchw)")
    parser.add_argument("--channels-last", action="store_true", help="same as --layouts channels-last")
    parser.add_argument("--json", action="store_true", help="print one JSON record instead of the table")
    parser.add_argument("--describe", action="store_true",
                        help="print each model's input, parameters, FLOPs per image and shapes as JSON; no timing")
    parser.add_argument("--self-test", action="store_true",
                        help="check parameter counts, shapes and FLOPs of every built-in and a few layer lists")
    args = parser.parse_args()

    if args.self_test:
        return self_test()
    if args.channels_last and args.layouts not in (None, "channels-last"):
        parser.error(f"--channels-last contradicts --layouts {args.layouts}")
    layouts = {"nchw": ["nchw"], "channels-last": ["channels-last"],
               "both": ["nchw", "channels-last"]}[args.layouts or ("channels-last" if args.channels_last else "nchw")]
    models = []
    if args.models is not None:
        models = parse_list(args.models, str)
        if not models:
            parser.error("--models is empty: give model names separated by commas")
        for name in models:
            if name not in BUILT_INS:
                parser.error(f"unknown model '{name}' in --models: choose from {', '.join(BUILT_INS)} "
                             "(give a layer list with --model)")
    elif not args.model:
        models = ["lenet-8-16", "lenet-4-8", "cnn-32-64"]
    try:
        given = parse_input(args.input) if args.input else None
        models += [m.strip() if m.strip() in BUILT_INS else canonical(m) for m in args.model]
        shapes = {}
        for name in models:
            shapes[name] = given or default_input(name)
            build(name, shapes[name])
    except ModelError as error:
        parser.error(str(error))
    batches = parse_list(args.batches, int) if args.batches else None
    if batches is not None and any(b < 1 or b > POOL for b in batches):
        parser.error(f"batches must lie in 1...{POOL}")
    if args.seconds <= 0 or args.repetitions < 1:
        parser.error("--seconds must be > 0 and --repetitions >= 1")

    if args.describe:
        print(json.dumps([describe(name, shapes[name]) for name in dict.fromkeys(models)]))
        return 0

    framework = f"pytorch {torch.__version__}"
    threads = torch.get_num_threads()
    lists = [name for name in dict.fromkeys(models) if name not in BUILT_INS]
    label = lambda name: name if name in BUILT_INS else f"list{lists.index(name) + 1}"  # noqa: E731
    if not args.json:
        capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
        print(f"framework: {framework} (CPU capability {capability}, oneDNN {torch.backends.mkldnn.is_available()})")
        print(f"cpu:       {cpu_model()}")
        print(f"threads:   {threads} (interop {torch.get_num_interop_threads()})")
        print(f"timing:    median of {args.repetitions} repetitions of >= {args.seconds:g} s after a "
              f"{args.warmup:g} s warm-up")
        print(f"step:      SGD lr {LEARNING_RATE}, batches from a pool of {POOL} random images")
        print()
        print(f"{'model':<10}  {'input':>8}  {'parameters':>10}  {'MFLOP/image':>11}")
        for name in dict.fromkeys(models):
            d = describe(name, shapes[name])
            print(f"{label(name):<10}  {d['input']:>8}  {d['parameters']:>10,}  {d['flops_per_image'] / 1e6:>11.2f}")
        for name in lists:
            print(f"{label(name)}: {name}")
        print()
        if len(layouts) == 2:
            print(f"{'model':<10}  {'batch':>5}  {'NCHW img/s':>10}  {'NHWC img/s':>10}  faster")
        else:
            print(f"{'model':<10}  {'batch':>5}  {'layout':<13}  {'images/s':>10}   min–max")
        sys.stdout.flush()

    rows = []
    for name in models:
        for batch in (batches if batches is not None else DEFAULT_BATCHES.get(name, [32])):
            measured = [measure(name, shapes[name], batch, args.seconds, args.repetitions, args.warmup,
                                LAYOUTS[layout]) for layout in layouts]
            rows += measured
            if args.json:
                continue
            note = " ".join(f"(cpu {row['cpu_share']:.0%})" for row in measured if row["cpu_share"] < CONTENDED)
            if len(measured) == 2:
                a, b = (row["images_per_s"] for row in measured)
                faster = f"{'NCHW' if a >= b else 'NHWC'} ×{max(a, b) / min(a, b):.2f}"
                print(f"{label(name):<10}  {batch:>5}  {a:>10,.0f}  {b:>10,.0f}  {faster:<11}{note}".rstrip())
            else:
                row = measured[0]
                low, high = row["spread"]
                print(f"{label(name):<10}  {batch:>5}  {row['layout']:<13}  {row['images_per_s']:>10,.0f}   "
                      f"{low:,.0f}–{high:,.0f}  {note}".rstrip())
            sys.stdout.flush()

    if not args.json and any(row["cpu_share"] < CONTENDED for row in rows):
        print("\n(cpu N%): this process got only N% of a core (CPU time / wall time) while timing;\n"
              "other processes competed and those rows understate the speed.")
    if args.json:
        print(json.dumps({"format": FORMAT, "framework": framework, "threads": threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
