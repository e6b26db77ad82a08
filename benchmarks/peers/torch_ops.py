#!/usr/bin/env python3
"""PyTorch peer of native/bench/bench_ops.cpp: the same workloads, under the same names, timed the same way.

usage: python3 benchmarks/peers/torch_ops.py --json OUT.json [--quick] [--device cuda|cpu]
                                             [--compile-budget SECONDS] [--no-tf32]

Workloads (sizes, FLOP and byte counts as in bench_ops.cpp; --quick uses bench_ops's --quick sizes):
  conv2d fwd / bwd_data / bwd_filter  cuDNN on channels_last tensors (the memory layout of Quarry's NHWC),
                                      cudnn.benchmark on; bwd_data and bwd_filter are separate
                                      aten.convolution_backward calls.
  batchnorm fwd (train) / bwd         F.batch_norm on a channels_last [n, 64, 32, 32] tensor (Quarry's [n*32*32, 64]);
                                      bwd is autograd.grad of that forward for x, gamma, beta (the kernels a training
                                      step runs).
  linear fwd / bwd_data / bwd_weight  F.linear; dy @ W; dy^T @ x plus the bias gradient dy.sum(0).
  log-softmax + NLL fwd / bwd         F.log_softmax + F.nll_loss (mean); bwd is autograd.grad of the loss.
  contrastive                         NT-Xent (F.normalize, the 2n x 2n matmul, diagonal masked, F.cross_entropy to the
                                      partner view) and MoCo InfoNCE (l_pos, q @ queue^T, F.cross_entropy to class 0),
                                      forward under no_grad, backward as autograd.grad of one recorded loss (z or q);
                                      the momentum update as mul_ + add_ over ResNet-18's parameter count.
  acquisition                         float64 math from float32 log-probabilities, written from docs/acquisition.md:
                                      BALD, conditional entropy, exp to float64, and the greedy BatchBALD pieces: the
                                      exact joint update (row-wise Kronecker product), importance sampling of
                                      configurations (torch.multinomial), and the joint entropy of every candidate,
                                      J = P @ probs as a batched matmul over candidate chunks (J of one chunk at most
                                      1 GiB on CUDA), then -sum_r w_r sum_c J log J.

Precision: the main timings are strict float32 (TF32 off for cuDNN and matmuls), as Quarry computes. Variants, reported
beside the main time and never replacing it: "tf32" (PyTorch's default for cuDNN convolutions: TF32 on) for the convs
and linear ops, "compile" (torch.compile, default mode) for the conv forwards while --compile-budget seconds last,
and "gemm2d" for the joint entropy (the same GEMM as one 2-D matmul per chunk instead of a batched one).

Timing (the same as bench_ops): two warm-up calls, the second sizing the loop; a sample is `inner` back-to-back calls
between torch.cuda.synchronize() calls, timed with time.perf_counter and divided by `inner` (> 1 only for calls under
1 ms); 5 to 20 samples (3 to 5 with --quick) within about 1 s per workload; the median is reported. The JSON is
rewritten after every workload, so a run cut short by a time limit leaves what it measured. Exit status: 0, 1 if a
workload failed, 2 on a usage error or when torch or the device is missing.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

torch = None
F = None


class Bench:
    """Times workloads and keeps their results; writes the JSON after each one."""

    def __init__(self, device, quick, json_path, meta):
        self.device = device
        self.quick = quick
        self.json_path = json_path
        self.meta = meta
        self.results = []
        self.start = time.perf_counter()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def time(self, op):
        """(median ms, min ms, max ms, reps, inner) of op()."""
        self.sync()
        op()
        self.sync()
        t0 = time.perf_counter()
        op()
        self.sync()
        est = max((time.perf_counter() - t0) * 1e3, 1e-4)
        budget_ms = 100.0 if self.quick else 1000.0
        inner = min(1000, math.ceil(1.0 / est)) if est < 1.0 else 1
        lo, hi = (3, 5) if self.quick else (5, 20)
        reps = max(lo, min(hi, int(budget_ms / (est * inner))))
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                op()
            self.sync()
            samples.append((time.perf_counter() - t0) * 1e3 / inner)
        return statistics.median(samples), min(samples), max(samples), reps, inner

    def bench(self, name, group, flops, nbytes, op, check=None):
        """Times op and records the result (a failure is recorded, not raised); returns the result dict."""
        r = {"name": name, "group": group, "ok": False, "derived": False, "ms": None, "ms_min": None, "ms_max": None,
             "reps": 0, "inner": 0, "flops": flops, "bytes": nbytes, "gflops": None, "gbs": None, "error": "",
             "variants": {}}
        try:
            r["ms"], r["ms_min"], r["ms_max"], r["reps"], r["inner"] = self.time(op)
            r["error"] = check() if check else ""
            r["ok"] = not r["error"]
            r["gflops"] = flops / r["ms"] * 1e-6
            r["gbs"] = nbytes / r["ms"] * 1e-6
        except Exception as e:  # noqa: BLE001 -- any failure of one workload is recorded and the run goes on
            r["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        self.add(r)
        return r

    def variant(self, result, label, op):
        """Times op as a variant of an already recorded workload: result['variants'][label] = median ms or an error."""
        try:
            result["variants"][label] = self.time(op)[0]
        except Exception as e:  # noqa: BLE001
            result["variants"][label] = f"failed: {type(e).__name__}: {e}".splitlines()[0][:200]
        self.print_variant(result, label)
        self.write()

    def add(self, r):
        self.results.append(r)
        self.print_row(r)
        self.write()

    def failure(self, family, error):
        self.add({"name": family, "group": family, "ok": False, "derived": False, "ms": None, "ms_min": None,
                  "ms_max": None, "reps": 0, "inner": 0, "flops": 0, "bytes": 0, "gflops": None, "gbs": None,
                  "error": error, "variants": {}})

    @staticmethod
    def print_row(r):
        if not r["ok"]:
            print(f"{r['name']:58} FAILED: {r['error']}", flush=True)
            return
        reps = "sum" if r["derived"] else f"{r['reps']}x{r['inner']}"
        print(f"{r['name']:58} {r['ms']:10.4f} {r['ms_min']:10.4f} {r['ms_max']:10.4f} {reps:>8} "
              f"{r['flops'] / r['ms'] * 1e-6:9.1f} {r['bytes'] / r['ms'] * 1e-6:8.1f}", flush=True)

    @staticmethod
    def print_variant(r, label):
        v = r["variants"][label]
        shown = f"{v:10.4f}" if isinstance(v, float) else v
        print(f"  {r['name'] + ' [' + label + ']':56} {shown}", flush=True)

    def write(self):
        if not self.json_path:
            return
        doc = dict(self.meta)
        doc["wall_s"] = round(time.perf_counter() - self.start, 1)
        doc["results"] = self.results
        tmp = self.json_path + ".tmp"  # then renamed: a run killed mid-write leaves the previous complete file
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, self.json_path)


def randn(shape, device, std=1.0):
    return torch.randn(*shape, device=device) * std


def finite(what, t):
    bad = int((~torch.isfinite(t)).sum())
    return f"{what}: {bad} of {t.numel()} values not finite" if bad else ""


# ---- conv2d (FLOPs and bytes: bench_ops.cpp's conv section) -----------------------------------------------------

def conv_shapes(quick):
    r, m = (2, 4) if quick else (128, 64)
    # (n, h, cin, cout, k, stride, pad, bias): ResNet-18 CIFAR 3x3 layers 1-4, layer2's stride-2 conv; MNIST ConvNet.
    return [(r, 32, 64, 64, 3, 1, 1, False), (r, 16, 128, 128, 3, 1, 1, False), (r, 8, 256, 256, 3, 1, 1, False),
            (r, 4, 512, 512, 3, 1, 1, False), (r, 32, 64, 128, 3, 2, 1, False),
            (m, 28, 1, 32, 5, 1, 0, True), (m, 12, 32, 64, 5, 1, 0, True)]


def conv_tag(shape):
    n, h, cin, cout, k, s, p, _ = shape
    return f"n{n}_{h}x{h}x{cin}_k{k}s{s}p{p}_co{cout}"


def set_tf32(on):
    """TF32 on or off for cuDNN (convs) and cuBLAS (matmuls). torch >= 2.9 warns about the legacy allow_tf32 flags
    and raises when they are mixed with the new fp32_precision ones, so only one API is used, the newest present."""
    cudnn = torch.backends.cudnn
    if hasattr(cudnn, "conv") and hasattr(cudnn.conv, "fp32_precision"):
        mode = "tf32" if on else "ieee"
        for node in (cudnn, cudnn.rnn):  # kept alike so that no conv/rnn mismatch trips a check; not essential
            try:
                node.fp32_precision = mode
            except (AttributeError, RuntimeError, ValueError):
                pass
        cudnn.conv.fp32_precision = mode
        torch.backends.cuda.matmul.fp32_precision = mode
    else:
        cudnn.allow_tf32 = on
        torch.backends.cuda.matmul.allow_tf32 = on


def tf32_state():
    cudnn = torch.backends.cudnn
    if hasattr(cudnn, "conv") and hasattr(cudnn.conv, "fp32_precision"):
        return f"cudnn.conv {cudnn.conv.fp32_precision}, cuda.matmul {torch.backends.cuda.matmul.fp32_precision}"
    return f"cudnn.allow_tf32 {cudnn.allow_tf32}, cuda.matmul.allow_tf32 {torch.backends.cuda.matmul.allow_tf32}"


def bench_conv(b, shape, dev, tf32, compiled):
    n, h, cin, cout, k, s, p, has_bias = shape
    ho = (h + 2 * p - k) // s + 1
    tag = conv_tag(shape)
    cl = torch.channels_last
    x = randn((n, cin, h, h), dev).contiguous(memory_format=cl)
    w = randn((cout, cin, k, k), dev, 1.0 / math.sqrt(k * k * cin)).contiguous(memory_format=cl)
    bias = randn((cout,), dev) if has_bias else None
    dy = randn((n, cout, ho, ho), dev).contiguous(memory_format=cl)
    nx, nw, ny = x.numel(), w.numel(), dy.numel()
    mac = 2.0 * ny * k * k * cin
    bias_flops = float(ny) if has_bias else 0.0
    bias_bytes = 4.0 * cout if has_bias else 0.0
    bias_sizes = [cout] if has_bias else None
    out = {}

    def fwd():
        out["y"] = F.conv2d(x, w, bias, stride=s, padding=p)

    def bwd(mask):
        def run():
            out["g"] = torch.ops.aten.convolution_backward(dy, x, w, bias_sizes, [s, s], [p, p], [1, 1], False,
                                                           [0, 0], 1, mask)
        return run

    runs = [("conv2d_fwd", mac + bias_flops, 4.0 * (nx + nw + ny) + bias_bytes, fwd, lambda: finite("y", out["y"])),
            ("conv2d_bwd_data", mac, 4.0 * (ny + nw + nx), bwd([True, False, False]),
             lambda: finite("dx", out["g"][0])),
            ("conv2d_bwd_filter", mac + bias_flops, 4.0 * (nx + ny + nw) + bias_bytes, bwd([False, True, has_bias]),
             lambda: finite("dw", out["g"][1]))]
    for name, flops, nbytes, op, check in runs:
        set_tf32(False)
        r = b.bench(f"{name} {tag}", "conv", flops, nbytes, op, check)
        if tf32 and dev.type == "cuda":
            set_tf32(True)
            b.variant(r, "tf32", op)
            set_tf32(False)
        if name == "conv2d_fwd":
            compiled.append((r, x, w, bias, s, p))


def bench_compiled_convs(b, compiled, budget_s):
    """torch.compile (default mode, TF32 off) of each conv forward while the compile budget lasts."""
    import torch._dynamo  # noqa: F401 -- torch._dynamo.reset below; lazily imported by some torch versions

    spent = 0.0
    for r, x, w, bias, s, p in compiled:
        if spent > budget_s:
            r["variants"]["compile"] = f"skipped: compile budget of {budget_s:.0f} s spent"
            b.print_variant(r, "compile")
            continue
        t0 = time.perf_counter()
        try:
            torch._dynamo.reset()  # a fresh cache per shape: no recompile limit, no dynamic-shape guess

            def conv(x_, w_):
                return F.conv2d(x_, w_, bias, stride=s, padding=p)

            f = torch.compile(conv, dynamic=False)
            f(x, w)
            b.sync()
        except Exception as e:  # noqa: BLE001 -- compile problems are reported, never fatal
            r["variants"]["compile"] = f"failed: {type(e).__name__}: {e}".splitlines()[0][:200]
            b.print_variant(r, "compile")
            return
        finally:
            spent += time.perf_counter() - t0
            b.meta["compile_seconds"] = round(spent, 1)
        b.variant(r, "compile", lambda: f(x, w))


# ---- batchnorm, linear, log-softmax + NLL ------------------------------------------------------------------------

def bench_batchnorm(b, dev, quick):
    n, c = (2 if quick else 128), 64
    m, e = n * 32 * 32, n * 32 * 32 * c
    tag = f"m{m}_c{c}"
    x = randn((n, c, 32, 32), dev, 2.0).contiguous(memory_format=torch.channels_last)
    dy = randn((n, c, 32, 32), dev).contiguous(memory_format=torch.channels_last)
    gamma = torch.rand(c, device=dev) + 0.5
    beta = randn((c,), dev)
    rmean, rvar = torch.zeros(c, device=dev), torch.ones(c, device=dev)
    out = {}

    def fwd():
        out["y"] = F.batch_norm(x, rmean, rvar, gamma, beta, training=True, momentum=0.1, eps=1e-5)

    b.bench(f"batchnorm_fwd_train {tag}", "batchnorm", 6.0 * e, 8.0 * e, fwd, lambda: finite("y", out["y"]))
    xg, gg, bg = x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_()
    y = F.batch_norm(xg, rmean, rvar, gg, bg, training=True, momentum=0.1, eps=1e-5)

    def bwd():
        out["g"] = torch.autograd.grad(y, (xg, gg, bg), dy, retain_graph=True)

    b.bench(f"batchnorm_bwd {tag}", "batchnorm", 10.0 * e, 12.0 * e, bwd, lambda: finite("dx", out["g"][0]))


def bench_linear(b, dev, tf32):
    n, fin, fout = 64, 1024, 128
    tag = f"n{n}_in{fin}_out{fout}"
    x, w = randn((n, fin), dev), randn((fout, fin), dev, 1.0 / 32.0)
    bias, dy = randn((fout,), dev), randn((n, fout), dev)
    nx, nw, ny = n * fin, fout * fin, n * fout
    mac = 2.0 * n * fin * fout
    out = {}

    def fwd():
        out["y"] = F.linear(x, w, bias)

    def bwd_data():
        out["dx"] = torch.mm(dy, w)

    def bwd_weight():
        out["dw"] = torch.mm(dy.t(), x)
        out["db"] = dy.sum(0)

    for name, flops, nbytes, op, check in [
            ("linear_fwd", mac + ny, 4.0 * (nx + nw + fout + ny), fwd, lambda: finite("y", out["y"])),
            ("linear_bwd_data", mac, 4.0 * (ny + nw + nx), bwd_data, lambda: finite("dx", out["dx"])),
            ("linear_bwd_weight", mac + ny, 4.0 * (nx + ny + nw + fout), bwd_weight, lambda: finite("dw", out["dw"]))]:
        set_tf32(False)
        r = b.bench(f"{name} {tag}", "linear", flops, nbytes, op, check)
        if tf32 and dev.type == "cuda":
            set_tf32(True)
            b.variant(r, "tf32", op)
            set_tf32(False)


def bench_softmax_nll(b, dev):
    n, c = 4096, 10
    e = n * c
    tag = f"n{n}_c{c}"
    x = randn((n, c), dev, 3.0)
    labels = torch.randint(0, c, (n,), device=dev)
    out = {}

    def fwd():
        out["loss"] = F.nll_loss(F.log_softmax(x, dim=1), labels)

    b.bench(f"logsoftmax_nll_fwd {tag}", "softmax", 6.0 * e, 8.0 * e + 4.0 * n + 4, fwd,
            lambda: finite("loss", out["loss"]))
    xg = x.clone().requires_grad_()
    loss = F.nll_loss(F.log_softmax(xg, dim=1), labels)

    def bwd():
        out["dx"] = torch.autograd.grad(loss, xg, retain_graph=True)[0]

    b.bench(f"logsoftmax_nll_bwd {tag}", "softmax", 5.0 * e, 8.0 * e + 4.0 * n, bwd, lambda: finite("dx", out["dx"]))


# ---- acquisition (docs/acquisition.md; FLOPs and bytes: bench_ops.cpp's acquisition section) ---------------------

def chosen_index(i, n):
    """The i-th chosen pool point, as in bench_ops.cpp."""
    return (i * 7919 + 13) % n


def entropy_terms(p):
    """-sum_c p log p over the last axis, 0 log 0 = 0."""
    return -torch.xlogy(p, p).sum(-1)


def bald_scores(logp_N_K_C):
    probs_N_K_C = logp_N_K_C.double().exp()
    mean_N_C = probs_N_K_C.mean(1)
    return entropy_terms(mean_N_C) - entropy_terms(probs_N_K_C).mean(1)


def cond_entropy_scores(logp_N_K_C):
    return entropy_terms(logp_N_K_C.double().exp()).mean(1)


def joint_extend(joint_M_K, probs_K_C):
    """Row-wise Kronecker product: P_new[m*C + c, k] = P[m, k] * probs[k, c]."""
    m, k = joint_M_K.shape
    return (joint_M_K[:, None, :] * probs_K_C.t()[None, :, :]).reshape(m * probs_K_C.shape[1], k)


def joint_sample(probs_A_K_C, s, gen):
    """Importance-sampled configurations of the A chosen points: s draws per MC sample k, m = K s rows; row
    r = k s + j draws y_i ~ Cat(probs[i, k, :]) for every i. Returns P [m, K] and w [m] = 1 / (m q_r)."""
    a, k, c = probs_A_K_C.shape
    m = k * s
    y_A_M = torch.multinomial(probs_A_K_C.reshape(a * k, c), s, replacement=True, generator=gen).reshape(a, m)
    joint_M_K = torch.ones(m, k, dtype=probs_A_K_C.dtype, device=probs_A_K_C.device)
    for i in range(a):
        joint_M_K *= probs_A_K_C[i][:, y_A_M[i]].t()
    q_M = joint_M_K.mean(1)
    return joint_M_K, 1.0 / (m * q_M)


def joint_entropy(joint_M_K, w_M, probs_N_K_C, chunk_bytes, out_N):
    """out[x] = -sum_m w[m] sum_c J log J, J[m, c] = (1/K) sum_k P[m, k] probs[x, k, c], as a batched matmul over
    chunks of candidates (w None: all ones)."""
    m, k = joint_M_K.shape
    n, _, c = probs_N_K_C.shape
    scaled_M_K = joint_M_K / k
    chunk = max(1, chunk_bytes // (m * c * 8))
    for x0 in range(0, n, chunk):
        joint_B_M_C = torch.matmul(scaled_M_K, probs_N_K_C[x0:x0 + chunk])
        terms_B_M = entropy_terms(joint_B_M_C)
        out_N[x0:x0 + chunk] = terms_B_M.sum(1) if w_M is None else terms_B_M @ w_M
    return out_N


def joint_entropy_gemm2d(joint_M_K, w_M, probs_N_K_C, chunk_bytes, out_N):
    """The same, with each chunk's GEMM as one 2-D matmul: [M, K] @ [K, B*C]."""
    m, k = joint_M_K.shape
    n, _, c = probs_N_K_C.shape
    scaled_M_K = joint_M_K / k
    chunk = max(1, chunk_bytes // (m * c * 8))
    for x0 in range(0, n, chunk):
        block_K_BC = probs_N_K_C[x0:x0 + chunk].permute(1, 0, 2).reshape(k, -1)
        joint_M_B_C = (scaled_M_K @ block_K_BC).view(m, -1, c)
        terms_M_B = entropy_terms(joint_M_B_C)
        out_N[x0:x0 + chunk] = terms_M_B.sum(0) if w_M is None else w_M @ terms_M_B
    return out_N


def bench_acquisition(b, dev, quick):
    n, k, c, steps_b, m_max = (500, 20, 10, 6, 2000) if quick else (58956, 100, 10, 10, 40000)
    chunk_bytes = (1 << 30) if dev.type == "cuda" else (64 << 20)
    nkc, kc = n * k * c, k * c
    pool = f"n{n}_k{k}_c{c}"
    logp_N_K_C = F.log_softmax(randn((n * k, c), dev, 2.0), dim=1).view(n, k, c)
    log_c = math.log(c)
    steps = []
    out = {}

    def to_probs():
        out["probs"] = logp_N_K_C.double().exp()

    def bald():
        out["scores"] = bald_scores(logp_N_K_C)

    def check_bald():
        s = out["scores"]
        bad = int(((s < -1e-9) | (s > log_c + 1e-9) | ~torch.isfinite(s)).sum())
        return f"{bad} BALD scores outside [0, log C]" if bad else ""

    def cond():
        out["scores"] = cond_entropy_scores(logp_N_K_C)

    score_flops, score_bytes = 5.0 * nkc, 4.0 * nkc + 8.0 * n
    steps.append(b.bench(f"logp_to_probs {pool}_f32", "acquisition", float(nkc), 12.0 * nkc, to_probs,
                         lambda: finite("probs", out["probs"])))
    steps.append(b.bench(f"acq_bald {pool}_f32", "acquisition", score_flops, score_bytes, bald, check_bald))
    steps.append(b.bench(f"acq_cond_entropy {pool}_f32", "acquisition", score_flops, score_bytes, cond,
                         lambda: finite("scores", out["scores"])))
    probs_N_K_C = logp_N_K_C.double().exp()
    del out["probs"]
    chosen_A_K_C = torch.stack([probs_N_K_C[chosen_index(i, n)] for i in range(steps_b - 1)])
    entropies_N = torch.empty(n, dtype=torch.float64, device=dev)
    s_draws = m_max // k
    m_sampled = s_draws * k
    gen = torch.Generator(device=dev)
    joint_M_K = torch.ones(1, k, dtype=torch.float64, device=dev)
    m = 1
    sampled_entropy = None
    for step in range(2, steps_b + 1):
        na = step - 1
        if m * c <= m_max:
            m0, prev, probs_a = m, joint_M_K, chosen_A_K_C[na - 1]

            def extend():
                out["joint"] = joint_extend(prev, probs_a)

            steps.append(b.bench(f"joint_extend m{m0}_k{k}_c{c}", "acquisition", float(m0 * c * k),
                                 8.0 * (m0 * k + kc + m0 * c * k), extend))
            joint_M_K = joint_extend(prev, probs_a)
            m = m0 * c
            cur = joint_M_K

            def exact():
                joint_entropy(cur, None, probs_N_K_C, chunk_bytes, entropies_N)

            r = b.bench(f"joint_entropy m{m}_{pool}", "acquisition", 2.0 * m * k * n * c + 3.0 * m * n * c,
                        8.0 * (nkc + m * k + n), exact, lambda: finite("joint entropies", entropies_N))
            steps.append(r)
            b.variant(r, "gemm2d", lambda: joint_entropy_gemm2d(cur, None, probs_N_K_C, chunk_bytes, entropies_N))
        else:
            m = m_max + 1  # sampled from here on
            chosen = chosen_A_K_C[:na]
            gen.manual_seed(1234 + step)

            def sample():
                out["sample"] = joint_sample(chosen, s_draws, gen)

            steps.append(b.bench(f"joint_sample a{na}_s{s_draws}_k{k}_c{c}", "acquisition",
                                 float(m_sampled * (na * c + na * k + k)), 8.0 * (na * kc + m_sampled * (k + 1)),
                                 sample, lambda: finite("w", out["sample"][1])))
            if sampled_entropy is None:  # one timing stands for every sampled step: the cost does not depend on a
                joint_S_K, w_S = joint_sample(chosen, s_draws, gen)

                def weighted():
                    joint_entropy(joint_S_K, w_S, probs_N_K_C, chunk_bytes, entropies_N)

                sampled_entropy = b.bench(f"joint_entropy_weighted m{m_sampled}_{pool}", "acquisition",
                                          2.0 * m_sampled * k * n * c + 3.0 * m_sampled * n * c,
                                          8.0 * (nkc + m_sampled * (k + 1) + n), weighted,
                                          lambda: finite("joint entropies", entropies_N))
                b.variant(sampled_entropy, "gemm2d",
                          lambda: joint_entropy_gemm2d(joint_S_K, w_S, probs_N_K_C, chunk_bytes, entropies_N))
            steps.append(sampled_entropy)

    total = {"name": f"batchbald_greedy_b{steps_b} {pool}_M{m_max}", "group": "acquisition", "derived": True,
             "ok": all(r["ok"] for r in steps), "reps": 0, "inner": 0, "error": "", "variants": {},
             "flops": sum(r["flops"] for r in steps), "bytes": sum(r["bytes"] for r in steps)}
    if total["ok"]:
        for key in ("ms", "ms_min", "ms_max"):
            total[key] = sum(r[key] for r in steps)
        total["gflops"] = total["flops"] / total["ms"] * 1e-6
        total["gbs"] = total["bytes"] / total["ms"] * 1e-6
    else:
        total.update(ms=None, ms_min=None, ms_max=None, gflops=None, gbs=None,
                     error="a step failed: " + next(r["name"] for r in steps if not r["ok"]))
    b.add(total)


# ---- contrastive losses (FLOPs and bytes: bench_ops.cpp's contrastive section) ------------------------------------

def ntxent_loss(z_R_D, n, tau):
    """SimCLR's NT-Xent as PyTorch users write it: F.normalize, the 2n x 2n similarity matmul, the diagonal masked,
    cross-entropy with the partner view (i + n) mod 2n as the target."""
    u_R_D = F.normalize(z_R_D, dim=1)
    sim_R_R = u_R_D @ u_R_D.t() / tau
    rows = 2 * n
    sim_R_R = sim_R_R.masked_fill(torch.eye(rows, dtype=torch.bool, device=z_R_D.device), float("-inf"))
    target_R = (torch.arange(rows, device=z_R_D.device) + n) % rows
    return F.cross_entropy(sim_R_R, target_R)


def infonce_queue_loss(q_N_D, k_N_D, queue_K_D, tau):
    """MoCo's InfoNCE: l_pos = q . k, l_neg = q @ queue^T, cross-entropy with the positive as class 0."""
    l_pos_N_1 = (q_N_D * k_N_D).sum(1, keepdim=True)
    l_neg_N_K = q_N_D @ queue_K_D.t()
    logits = torch.cat([l_pos_N_1, l_neg_N_K], dim=1) / tau
    return F.cross_entropy(logits, torch.zeros(q_N_D.shape[0], dtype=torch.long, device=q_N_D.device))


def bench_contrastive(b, dev, quick):
    n, d = (256, 32) if quick else (4096, 128)
    rows, tau = 2 * n, 0.5
    r2 = float(rows * rows)
    z = randn((rows, d), dev).requires_grad_()
    out = {}
    tag = f"n{n}_d{d}"

    def nt_fwd():
        with torch.no_grad():
            out["loss"] = ntxent_loss(z, n, tau)

    b.bench(f"ntxent_fwd {tag}", "contrastive", 2.0 * r2 * d + r2, 4.0 * rows * d + 8.0 * rows + 4, nt_fwd,
            lambda: finite("loss", out["loss"]))
    nt_graph = ntxent_loss(z, n, tau)

    def nt_bwd():
        out["dz"] = torch.autograd.grad(nt_graph, z, retain_graph=True)[0]

    b.bench(f"ntxent_bwd {tag}", "contrastive", 4.0 * r2 * d + 2.0 * r2, 8.0 * rows * d + 8.0 * rows, nt_bwd,
            lambda: finite("dz", out["dz"]))
    del nt_graph
    nq, kq, moco_tau = 256, (4096 if quick else 65536), 0.07
    q = randn((nq, d), dev, 1.0 / math.sqrt(d)).requires_grad_()
    k, queue = randn((nq, d), dev, 1.0 / math.sqrt(d)), randn((kq, d), dev, 1.0 / math.sqrt(d))
    nk = float(nq * kq)
    tag = f"n{nq}_k{kq}_d{d}"

    def moco_fwd():
        with torch.no_grad():
            out["loss"] = infonce_queue_loss(q, k, queue, moco_tau)

    b.bench(f"infonce_queue_fwd {tag}", "contrastive", 2.0 * nk * d + nk, 4.0 * (2 * nq * d + kq * d) + 4.0 * nq + 4,
            moco_fwd, lambda: finite("loss", out["loss"]))
    moco_graph = infonce_queue_loss(q, k, queue, moco_tau)

    def moco_bwd():
        out["dq"] = torch.autograd.grad(moco_graph, q, retain_graph=True)[0]

    b.bench(f"infonce_queue_bwd {tag}", "contrastive", 4.0 * nk * d + nk,
            4.0 * (2 * nq * d + kq * d + nq) + 4.0 * nq * d, moco_bwd, lambda: finite("dq", out["dq"]))
    del moco_graph
    params = (1 << 16) if quick else 11173962
    theta_k, theta_q = randn((params,), dev), randn((params,), dev)

    def momentum():
        with torch.no_grad():
            theta_k.mul_(0.999).add_(theta_q, alpha=1 - 0.999)

    b.bench(f"momentum_update n{params}", "contrastive", 3.0 * params, 12.0 * params, momentum,
            lambda: finite("theta_k", theta_k))


def main():
    global torch, F
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results here (rewritten after every workload)")
    ap.add_argument("--quick", action="store_true", help="bench_ops's --quick sizes (a smoke test)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    ap.add_argument("--compile-budget", type=float, default=60.0,
                    help="seconds of torch.compile for the conv forwards (0: none); default 60")
    ap.add_argument("--no-tf32", action="store_true", help="skip the TF32 variants")
    args = ap.parse_args()
    try:
        import torch as torch_module
        import torch.nn.functional as functional
    except ImportError as e:
        print(f"torch_ops.py: PyTorch is not installed ({e})", file=sys.stderr)
        return 2
    torch, F = torch_module, functional
    if args.device == "cuda" and not torch.cuda.is_available():
        print("torch_ops.py: torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    dev = torch.device(args.device)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    set_tf32(False)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        device_name = (f"{props.name}, {props.total_memory / 2 ** 30:.1f} GiB, cc {props.major}.{props.minor}, "
                       f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        device_name = f"CPU, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}"
    meta = {"tool": "torch_ops.py", "torch_version": torch.__version__, "device": dev.type,
            "device_name": device_name, "quick": args.quick, "python": platform.python_version(),
            "fp32_main": tf32_state()}
    b = Bench(dev, args.quick, args.json, meta)
    print(f"torch {torch.__version__} torch_ops.py on {device_name}{' (--quick sizes)' if args.quick else ''}")
    print(f"{'workload':58} {'median ms':>10} {'min ms':>10} {'max ms':>10} {'reps':>8} {'GFLOP/s':>9} {'GB/s':>8}")

    def family(name, fn, *fargs):
        try:
            fn(*fargs)
        except Exception as e:  # noqa: BLE001 -- setup failed: the family's rows are missing, the run goes on
            b.failure(name, f"{type(e).__name__}: {e}".splitlines()[0][:300])
        if dev.type == "cuda":
            torch.cuda.empty_cache()

    tf32 = not args.no_tf32
    compiled = []
    with torch.no_grad():
        for shape in conv_shapes(args.quick):
            family("conv2d " + conv_tag(shape), bench_conv, b, shape, dev, tf32, compiled)
    family("batchnorm", bench_batchnorm, b, dev, args.quick)
    with torch.no_grad():
        family("linear", bench_linear, b, dev, tf32)
    family("logsoftmax_nll", bench_softmax_nll, b, dev)
    family("contrastive", bench_contrastive, b, dev, args.quick)  # records autograd graphs: outside no_grad
    with torch.no_grad():
        family("acquisition", bench_acquisition, b, dev, args.quick)
        if args.compile_budget > 0 and hasattr(torch, "compile"):
            family("torch.compile", bench_compiled_convs, b, compiled, args.compile_budget)
    b.write()
    failed = sum(not r["ok"] for r in b.results)
    print(f"{len(b.results)} workloads, {failed} failed, {time.perf_counter() - b.start:.1f} s")
    if args.json:
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
