#!/usr/bin/env python3
"""PyTorch peer of native/bench/bench_resnet.cpp: the same two workloads, under the same names, timed the same way.

usage: python3 benchmarks/peers/torch_resnet.py [--device cuda|cpu] [--mode train|mc|all] [--batch B] [--image HW]
           [--steps S] [--warmup W] [--reps R] [--pool N] [--samples K] [--chunk C]
           [--precisions fp32,tf32,bf16_amp] [--threads T] [--seed S] [--json OUT.json]

Workloads (defaults as bench_resnet's: batch 512 on cuda, 32 on cpu; 3 warm-up steps on cuda, 1 on cpu; 3 reps of
4 steps on cuda, of 1 on cpu; pool 10,000 on cuda, 256 on cpu; K = 100):
  train  ResNet-18, CIFAR variant (3x3 stem without bias, BN, ReLU, basic blocks [2, 2, 2, 2] of widths 64-128-256-512
         with 1x1 stride-2 projection shortcuts, global average pool, linear 512->10; 11,173,962 parameters) on
         channels_last tensors (Quarry's NHWC), cudnn.benchmark on. One step: forward in training mode, log-softmax +
         NLL (mean), zero_grad(set_to_none), backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4, PyTorch's
         default foreach implementation). One fixed N(0, 1) batch on the device; the loss is read only after the reps.
  mc     the BatchBALD MNIST ConvNet (conv 1->32 5x5, Dropout2d, maxpool 2, ReLU, conv 32->64 5x5, Dropout2d, maxpool 2,
         ReLU, FC 1024->128, Dropout, ReLU, FC 128->10; p = 0.5) in eval mode with consistent MC dropout as Quarry's
         McInference runs it: per chunk of C images (the same chunk rule), conv1 once, K copies stacked into one K*C
         batch, every dropout applying mask k to rows [k*C, (k+1)*C) (masks drawn once per run, one per sample k and
         channel or feature, as batchbald_redux's consistent dropout keeps them), log-softmax, and the [K][C][10]
         result written transposed into an [N][K][10] tensor. The chunk of inputs is made once and reused.
Precisions, each timed as its own row ("<workload> <precision>"): fp32 = strict float32 (cuDNN and matmul TF32 off),
as Quarry computes; tf32 = TF32 allowed for cuDNN and matmuls (PyTorch's default for convolutions); bf16_amp =
torch.autocast(bfloat16) around the forward and the loss (TF32 off for what stays in float32). On cpu only fp32 runs
unless --precisions says otherwise.

FLOPs (as bench_resnet counts them): 2 * output elements * Cin * Kh * Kw per conv and 2 * out * in per linear
forward, counted with forward hooks; a training step costs 3x its forward. Timing: --warmup units, then --reps reps of
--steps units (a unit is a step, or one pass over the pool), each rep between torch.cuda.synchronize() calls, timed
with time.perf_counter; the median rep is reported. The JSON (bench_resnet's format) is rewritten after every
workload. Exit status: 0, 1 if a workload failed, 2 on a usage error or when torch or the device is missing.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the peer is optional: say so in one line
    print(f"torch_resnet.py: PyTorch is not importable ({e})", file=sys.stderr)
    sys.exit(2)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


def resnet18(classes=10):
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for s, width in enumerate([64, 128, 256, 512]):
        for b in range(2):
            layers.append(BasicBlock(cin, width, 2 if s > 0 and b == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


class StackedMcDropout(nn.Module):
    """Dropout (per feature) or Dropout2d (per channel) over K stacked samples: rows [k*m, (k+1)*m) use mask k."""

    def __init__(self, p, channelwise):
        super().__init__()
        self.p, self.channelwise, self.mask = p, channelwise, None

    def draw(self, samples, units, gen, device):
        shape = (samples, 1, units, 1, 1) if self.channelwise else (samples, 1, units)
        keep = torch.rand(shape, generator=gen, device=device) >= self.p
        self.mask = keep.to(torch.float32) / (1 - self.p)

    def forward(self, x):
        k = self.mask.shape[0]
        return (x.unflatten(0, (k, x.shape[0] // k)) * self.mask.to(x.dtype)).flatten(0, 1)


def convnet(p):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), StackedMcDropout(p, True), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 5), StackedMcDropout(p, True), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 128), StackedMcDropout(p, False), nn.ReLU(), nn.Linear(128, 10))


def mc_chunk(pool, samples):
    """McInference.chunkImages: K stacked copies of conv1's output (x4 for suffix buffers) within 256 MiB."""
    per_image = max(24 * 24 * 32, 28 * 28) * 4 * 4 * samples
    return max(1, min(512, pool, (256 << 20) // per_image))


class FlopCounter:
    """Forward FLOPs of Conv2d and Linear modules (multiply-add = 2), summed while active."""

    def __init__(self, model):
        self.flops = 0
        self.handles = [m.register_forward_hook(self.hook) for m in model.modules()
                        if isinstance(m, (nn.Conv2d, nn.Linear))]

    def hook(self, m, inputs, out):
        if isinstance(m, nn.Conv2d):
            self.flops += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            self.flops += 2 * out.numel() * m.in_features

    def close(self):
        for h in self.handles:
            h.remove()


def set_precision(precision):
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32


def autocast(device, precision):
    if precision == "bf16_amp":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


class Bench:
    def __init__(self, args, device):
        self.args, self.device, self.results = args, device, []
        self.start = time.perf_counter()
        if device.type == "cuda":
            props = torch.cuda.get_device_properties(device)
            self.device_name = (f"{props.name}, {props.total_memory / 2**30:.1f} GiB, cc {props.major}.{props.minor}, "
                                f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
        else:
            cpu = platform.processor() or platform.machine()
            self.device_name = f"CPU ({cpu}), {torch.get_num_threads()} thread(s)"

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def time_reps(self, r, unit):
        for _ in range(r["warmup"]):
            unit()
        self.sync()
        samples = []
        for _ in range(r["reps"]):
            t0 = time.perf_counter()
            for _ in range(r["steps"]):
                unit()
            self.sync()
            samples.append((time.perf_counter() - t0) * 1e3 / r["steps"])
        r["ms"], r["ms_min"], r["ms_max"] = statistics.median(samples), min(samples), max(samples)

    def add(self, r):
        ok = r["ok"] and r["ms"] and r["ms"] > 0
        ips = (lambda ms: r["images"] / ms * 1e3) if ok else (lambda ms: None)
        r["name"] = f"{r['workload']} {r['precision']}"
        r["images_per_s"] = ips(r["ms"])
        r["images_per_s_min"], r["images_per_s_max"] = ips(r["ms_max"]), ips(r["ms_min"])
        r["tflops"] = r["flops"] / r["ms"] * 1e-9 if ok else None
        if ok:
            unit = "step" if r["group"] == "train" else "pass"
            loss = f"; loss {r['loss_first']:.4f} -> {r['loss_last']:.4f}" if r["group"] == "train" else ""
            print(f"{r['name']:<38} {r['images_per_s']:9.1f} img/s (min {r['images_per_s_min']:.1f}, max "
                  f"{r['images_per_s_max']:.1f}) {r['ms']:10.3f} ms/{unit} {r['tflops']:7.3f} TFLOP/s  "
                  f"{r['reps']} reps x {r['steps']}{loss}", flush=True)
        else:
            print(f"{r['name']:<38} FAILED: {r['error']}", flush=True)
        self.results.append(r)
        self.write()

    def write(self):
        if not self.args.json:
            return
        doc = {"tool": "torch_resnet.py", "torch_version": torch.__version__, "device": self.device.type,
               "device_name": self.device_name, "wall_s": round(time.perf_counter() - self.start, 1),
               "results": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                           for r in self.results]}
        tmp = self.args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, self.args.json)


def result(workload, precision, group, **kw):
    r = {"workload": workload, "precision": precision, "group": group, "ok": False, "error": "", "batch": 0,
         "chunk": 0, "steps": 1, "reps": 1, "warmup": 0, "images": 0, "ms": None, "ms_min": None, "ms_max": None,
         "flops": 0, "loss_first": None, "loss_last": None}
    r.update(kw)
    return r


def bench_train(b, precision):
    a, device = b.args, b.device
    cuda = device.type == "cuda"
    batch = a.batch or (512 if cuda else 32)
    r = result(f"resnet18_train_b{batch}_{a.image}x{a.image}", precision, "train", batch=batch, images=batch,
               warmup=a.warmup if a.warmup is not None else (3 if cuda else 1),
               steps=a.steps or (4 if cuda else 1), reps=a.reps or 3)
    try:
        set_precision(precision)
        torch.manual_seed(a.seed)
        model = resnet18().to(device).to(memory_format=torch.channels_last).train()
        gen = torch.Generator(device="cpu").manual_seed(a.seed + 1)
        x = torch.randn(batch, 3, a.image, a.image, generator=gen).to(device).to(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,), generator=gen).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def step():
            with autocast(device, precision):
                loss = F.nll_loss(F.log_softmax(model(x).float(), dim=1), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        counter = FlopCounter(model)
        r["loss_first"] = step().item()  # a first step, untimed: the initial loss and the FLOPs of a step
        r["flops"] = 3 * counter.flops
        counter.close()
        last = [None]

        def unit():
            last[0] = step()

        b.time_reps(r, unit)
        r["loss_last"] = last[0].item()
        r["ok"] = math.isfinite(r["loss_first"]) and math.isfinite(r["loss_last"])
        if not r["ok"]:
            r["error"] = f"loss not finite: {r['loss_first']} -> {r['loss_last']}"
    except Exception as e:  # one failed workload is a row, not the end of the run
        r["error"] = f"{type(e).__name__}: {e}"[:300]
    b.add(r)


def bench_mc(b, precision):
    a, device = b.args, b.device
    cuda = device.type == "cuda"
    pool = a.pool or (10000 if cuda else 256)
    k = a.samples
    chunk = min(a.chunk, pool) if a.chunk else mc_chunk(pool, k)
    r = result(f"convnet_mc_n{pool}_k{k}", precision, "mc", batch=chunk * k, chunk=chunk, images=pool,
               warmup=a.warmup if a.warmup is not None else 1, steps=1, reps=a.reps or 3)
    try:
        set_precision(precision)
        torch.manual_seed(a.seed)
        model = convnet(0.5).to(device).to(memory_format=torch.channels_last).eval()
        layers = list(model.children())
        prefix, suffix = layers[0], nn.Sequential(*layers[1:])
        gen = torch.Generator(device="cpu").manual_seed(a.seed + 2)
        for m, units in zip([l for l in layers if isinstance(l, StackedMcDropout)], (32, 64, 128)):
            m.draw(k, units, gen, "cpu")
            m.mask = m.mask.to(device)
        x = torch.rand(chunk, 1, 28, 28, generator=gen).to(device).to(memory_format=torch.channels_last)
        out = torch.empty(pool, k, 10, device=device)

        def run_chunk(xc, start):
            m = xc.shape[0]
            with autocast(device, precision):
                h = prefix(xc)
                logits = suffix(h.repeat(k, 1, 1, 1))
            lp = F.log_softmax(logits.float(), dim=1)
            out[start:start + m].copy_(lp.view(k, m, 10).transpose(0, 1))

        def one_pass():
            with torch.inference_mode():
                for start in range(0, pool, chunk):
                    run_chunk(x[:min(chunk, pool - start)], start)

        counter = FlopCounter(model)
        one_pass()  # a first pass, untimed: the FLOPs of a pass
        r["flops"] = counter.flops
        counter.close()
        b.time_reps(r, one_pass)
        bad = int((~torch.isfinite(out)).sum())
        r["ok"] = bad == 0
        if bad:
            r["error"] = f"{bad} of {out.numel()} log-probabilities not finite"
    except Exception as e:
        r["error"] = f"{type(e).__name__}: {e}"[:300]
    b.add(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--mode", default="all", choices=["train", "mc", "all"])
    ap.add_argument("--batch", type=int)
    ap.add_argument("--image", type=int, default=32)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--pool", type=int)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--chunk", type=int)
    ap.add_argument("--precisions", help="comma-separated from fp32, tf32, bf16_amp (default: all three on cuda, "
                                         "fp32 on cpu)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()
    for name in ("batch", "steps", "reps", "pool", "samples", "chunk", "threads"):
        v = getattr(a, name)
        if v is not None and v < 1:
            ap.error(f"--{name} must be at least 1")
    if a.warmup is not None and a.warmup < 0:
        ap.error("--warmup must be at least 0")
    if a.image < 8 or a.image % 8:
        ap.error("--image must be a multiple of 8")
    precisions = (a.precisions or ("fp32,tf32,bf16_amp" if a.device == "cuda" else "fp32")).split(",")
    if any(p not in ("fp32", "tf32", "bf16_amp") for p in precisions):
        ap.error(f"--precisions: unknown precision in {a.precisions}")
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_resnet.py: CUDA requested but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    b = Bench(a, device)
    print(f"torch {torch.__version__} torch_resnet.py on {b.device_name}; precisions {', '.join(precisions)}")
    for precision in precisions:
        if a.mode != "mc":
            bench_train(b, precision)
        if a.mode != "train":
            bench_mc(b, precision)
    failed = sum(not r["ok"] for r in b.results)
    print(f"{len(b.results)} workloads, {failed} failed, {time.perf_counter() - b.start:.1f} s")
    b.write()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
