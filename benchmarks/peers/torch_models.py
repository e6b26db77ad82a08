#!/usr/bin/env python3
"""PyTorch peer of `quarry bench train` and `quarry bench mc` (java/src/main/java/dev/quarry/cli/ModelBench.java):
the same models, batch sizes, optimiser and MC-dropout scheme, timed the same way.

usage: python3 benchmarks/peers/torch_models.py train --model convnet|resnet18 --batch B [--steps S] [--reps R]
       python3 benchmarks/peers/torch_models.py mc --model convnet|resnet18 --pool N --samples K [--batch B] [--reps R]
       common: [--threads T] [--p P] [--dropout none|classifier|blocks] [--device cpu|cuda] [--warmup W] [--seed S]

Models (as Quarry builds them; PyTorch's NCHW layout, its default, where Quarry is NHWC):
  convnet   the BatchBALD MNIST ConvNet (docs/protocols.md, Models.mnistConvNet): conv 1->32 5x5, Dropout2d(p), maxpool 2,
            ReLU, conv 32->64 5x5, Dropout2d(p), maxpool 2, ReLU, FC 1024->128, Dropout(p), ReLU, FC 128->10; 28x28x1.
  resnet18  ResNet-18 CIFAR variant (ResNetConfig.cifar18): 3x3 stem, no max-pool, 64-128-256-512, [2,2,2,2] basic blocks,
            batch norm, global average pool, FC 512->10; dropout before the classifier (default), Dropout2d after every
            block, or none. 11,173,962 parameters. 32x32x3.
Work per timed unit:
  train     one step: forward (train mode), log-softmax + NLL, backward, Adam(lr 1e-3) step, loss.item() (Quarry
            downloads the loss each step too), on one fixed batch of N(0, 1) images with uniform labels.
  mc        consistent MC dropout (Kirsch et al.'s consistent_mc_dropout): eval mode; the layers before the first dropout
            run once per chunk of the pool, the rest once per sample k with one mask per k shared by every image (a
            [1, C, 1, 1] mask for Dropout2d, [1, F] for Dropout), log-softmax written into an N x K x C tensor.
Timing: --warmup steps (or chunks) first, then --reps repetitions of --steps steps (or of the whole pool), each timed
with time.perf_counter (torch.cuda.synchronize on CUDA); prints the median images/s with min and max.
"""
import argparse
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the peer is optional: say so in one line
    print(f"torch_models.py: PyTorch is not importable ({e})", file=sys.stderr)
    sys.exit(2)


class McDropout(nn.Module):
    """Dropout (per feature) or Dropout2d (per channel) whose MC mode uses one mask per sample k for the whole batch."""

    def __init__(self, p, channelwise):
        super().__init__()
        self.p, self.channelwise, self.mask = p, channelwise, None

    def forward(self, x):
        if self.mask is not None:
            return x * self.mask
        if not self.training or self.p == 0:
            return x
        return F.dropout2d(x, self.p, True) if self.channelwise else F.dropout(x, self.p, True)

    def sample_mask(self, shape, gen, device):
        keep = torch.rand(shape, generator=gen, device=device) >= self.p
        self.mask = keep.to(torch.float32) / (1 - self.p)


def convnet(p):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), McDropout(p, True), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 5), McDropout(p, True), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(1024, 128), McDropout(p, False), nn.ReLU(), nn.Linear(128, 10))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet18(p, dropout, classes=10):
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for s, width in enumerate([64, 128, 256, 512]):
        for b in range(2):
            layers.append(BasicBlock(cin, width, 2 if s > 0 and b == 0 else 1))
            if dropout == "blocks":
                layers.append(McDropout(p, True))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout == "classifier":
        layers.append(McDropout(p, False))
    layers.append(nn.Linear(512, classes))
    return nn.Sequential(*layers)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def report(rates, what):
    print(f"{what}: images/s median {statistics.median(rates):.1f} (min {min(rates):.1f}, max {max(rates):.1f} "
          f"over {len(rates)} reps)")


def bench_train(model, shape, args, device):
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    x = torch.randn((args.batch,) + shape, generator=gen).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step():
        loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.reps):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync(device)
        rates.append(args.batch * args.steps / (time.perf_counter() - t0))
    report(rates, f"train batch {args.batch}, {args.reps} reps x {args.steps} steps after {args.warmup} warm-up")


def bench_mc(model, shape, args, device):
    layers = list(model.children())
    first = next((i for i, m in enumerate(layers) if isinstance(m, McDropout)), None)
    if first is None:
        sys.exit("torch_models.py: MC inference needs a model with dropout")
    prefix, suffix = nn.Sequential(*layers[:first]), nn.Sequential(*layers[first:])
    drops = [m for m in layers if isinstance(m, McDropout)]
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    chunk = min(args.batch, args.pool)
    x = torch.randn((chunk,) + shape, generator=gen).to(device)
    tail = torch.randn((args.pool % chunk,) + shape, generator=gen).to(device) if args.pool % chunk else None
    mask_gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    model.eval()
    out = None

    def run(xc, start):
        nonlocal out
        h = prefix(xc)
        for k in range(args.samples):
            z = h
            for m in suffix:  # each dropout's mask shape is known only when its input arrives
                if isinstance(m, McDropout):
                    m.sample_mask((1, z.shape[1], 1, 1) if m.channelwise else (1, z.shape[1]), mask_gen, device)
                z = m(z)
            lp = F.log_softmax(z, dim=1)
            if out is None:
                out = torch.empty((args.pool, args.samples, lp.shape[1]), device=device)
            out[start:start + xc.shape[0], k] = lp
        for m in drops:
            m.mask = None

    with torch.no_grad():
        for _ in range(args.warmup):
            run(x, 0)
        rates = []
        for _ in range(args.reps):
            sync(device)
            t0 = time.perf_counter()
            done = 0
            while done + chunk <= args.pool:
                run(x, done)
                done += chunk
            if tail is not None:
                run(tail, done)
            sync(device)
            rates.append(args.pool / (time.perf_counter() - t0))
    report(rates, f"mc pool {args.pool} chunks of {chunk} K {args.samples} ({first} layers before the first dropout run once), "
                  f"{args.reps} reps after {args.warmup} warm-up chunks")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", choices=["train", "mc"])
    ap.add_argument("--model", required=True, choices=["convnet", "resnet18"])
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--pool", type=int)
    ap.add_argument("--samples", type=int)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--dropout", choices=["none", "classifier", "blocks"], default="classifier")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.bench == "train" and not args.batch:
        ap.error("train needs --batch")
    if args.bench == "mc" and not (args.pool and args.samples):
        ap.error("mc needs --pool and --samples")
    args.batch = args.batch or 500
    args.reps = args.reps or (3 if args.bench == "mc" else 5)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if args.model == "convnet":
        model, shape = convnet(args.p), (1, 28, 28)
    else:
        model, shape = resnet18(args.p, args.dropout), (3, 32, 32)
    model = model.to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; model {args.model} "
          f"({params:,} parameters, dropout {args.p if args.model == 'convnet' else args.dropout + ' p=' + str(args.p)})")
    (bench_train if args.bench == "train" else bench_mc)(model, shape, args, device)


if __name__ == "__main__":
    main()
