#!/usr/bin/env python3
"""PyTorch peer of `quarry bench ntxent` and `quarry bench moco`: the same losses, the same arguments, the same lines.

usage: python3 benchmarks/peers/torch_contrastive.py ntxent --batch N --dim D [--tau T]
       python3 benchmarks/peers/torch_contrastive.py moco --batch N --queue K --dim D [--tau T]
       (both: [--device cpu|cuda] [--threads T] [--repeats R] [--warmup W] [--seed S])

ntxent: z [2N, D] ~ N(0, 1) with requires_grad; loss = F.cross_entropy over the 2N x 2N cosine similarities / tau
  (F.normalize, u @ u.T, the diagonal masked with -inf, target (i + N) mod 2N), as SimCLR implementations write it.
moco: q, k [N, D] and queue [K, D] ~ N(0, 1/D) (rows of norm about 1, as in `quarry bench moco`); loss =
  F.cross_entropy of [q.k, q @ queue.T] / tau with target 0; the gradient flows to q only.
One run = forward + loss.backward() (+ torch.cuda.synchronize on CUDA); prints the median, minimum and maximum of
--repeats runs after --warmup unmeasured ones, the loss, the memory of the tensors and of the dense logit matrix
PyTorch materialises, and the process's peak resident set (VmHWM). --threads sets torch.set_num_threads (default 2,
the cores of the build machine).

PyTorch's CPU matmuls run on whatever BLAS it was built against; Debian's python3-torch uses the generic reference
BLAS (torch.__config__.show() says BLAS_INFO=generic, about 6 GFLOP/s for a 1024^3 sgemm on 2 cores). For a peer on
the same BLAS as Quarry, preload the OpenBLAS that Maven unpacks (about 175 GFLOP/s there):
  LD_PRELOAD=target/openblas/org/bytedeco/openblas/linux-x86_64/libopenblas.so.0 OPENBLAS_NUM_THREADS=2 \
      python3 benchmarks/peers/torch_contrastive.py ntxent --batch 1024 --dim 128
"""
import argparse
import statistics
import sys
import time

MIB = float(1 << 20)


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=("ntxent", "moco"))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--queue", type=int)
    ap.add_argument("--tau", type=float)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    moco = a.workload == "moco"
    tau = a.tau if a.tau is not None else (0.07 if moco else 0.5)
    if a.batch < (1 if moco else 2) or a.dim < 1 or (moco and (a.queue is None or a.queue < 1)):
        ap.error("need --batch >= 1, --queue >= 1, --dim >= 1" if moco else "need --batch >= 2 pairs and --dim >= 1")
    if not tau > 0 or a.repeats < 1 or a.warmup < 0:
        ap.error("need --tau > 0, --repeats >= 1, --warmup >= 0")
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"torch_contrastive.py: PyTorch is not installed ({e})", file=sys.stderr)
        return 2
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_contrastive.py: torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    n, d = a.batch, a.dim

    if moco:
        kq = a.queue
        q = (torch.randn(n, d, device=dev) / d ** 0.5).requires_grad_()
        k = torch.randn(n, d, device=dev) / d ** 0.5
        queue_K_D = torch.randn(kq, d, device=dev) / d ** 0.5
        target = torch.zeros(n, dtype=torch.long, device=dev)

        def step():
            q.grad = None
            l_pos = (q * k).sum(1, keepdim=True)
            l_neg = q @ queue_K_D.t()
            loss = F.cross_entropy(torch.cat([l_pos, l_neg], dim=1) / tau, target)
            loss.backward()
            return loss

        tensors = 4 * (3 * n * d + kq * d + n + 1)
        dense = 4.0 * n * (kq + 1)
        print(f"moco batch {n} queue {kq} dim {d} tau {tau} device {a.device} ({torch.get_num_threads()} threads, "
              f"torch {torch.__version__})")
    else:
        rows = 2 * n
        z = torch.randn(rows, d, device=dev).requires_grad_()
        mask = torch.eye(rows, dtype=torch.bool, device=dev)
        target = (torch.arange(rows, device=dev) + n) % rows

        def step():
            z.grad = None
            u = F.normalize(z, dim=1)
            sim = (u @ u.t() / tau).masked_fill(mask, float("-inf"))
            loss = F.cross_entropy(sim, target)
            loss.backward()
            return loss

        tensors = 4 * (2 * rows * d + 2 * rows + 1)
        dense = 4.0 * rows * rows
        print(f"ntxent batch {n} dim {d} tau {tau} device {a.device} ({torch.get_num_threads()} threads, "
              f"torch {torch.__version__})")

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        step()
    sync()
    ms = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        loss = step()
        sync()
        ms.append((time.perf_counter() - t0) * 1e3)
    print(f"forward+backward ms: median {statistics.median(ms):.3f} min {min(ms):.3f} max {max(ms):.3f} "
          f"({a.repeats} runs after {a.warmup} warm-up)")
    print(f"loss {loss.item():.6f}")
    print(f"memory MiB: tensors {tensors / MIB:.2f}, dense logits materialised {dense / MIB:.2f}")
    hwm = peak_rss_bytes()
    if hwm > 0:
        print(f"peak RSS MiB (VmHWM, whole process): {hwm / MIB:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
