#!/usr/bin/env python3
"""Quarry's kernel timings beside PyTorch's: one markdown table from the JSON of bench_ops and of torch_ops.py.

usage: python3 benchmarks/gpu/compare.py QUARRY.json PYTORCH.json [--out TABLE.md]

Also takes bench_resnet's JSON with torch_resnet.py's (whole-model workloads, recognised by their images_per_s): one
row per workload with Quarry's images/s and TFLOP/s, then PyTorch's images/s at each precision it ran (fp32 = TF32
off, tf32, bf16_amp) and the ratio Quarry / PyTorch (> 1 means Quarry is faster).

Kernel rows follow QUARRY.json and are matched to PYTORCH.json by workload name. ratio = PyTorch ms / Quarry ms, so > 1
means Quarry is faster. GFLOP/s and GB/s are Quarry's at its median (FLOPs and fewest bytes as counted in
native/bench/bench_ops.cpp). The last column lists PyTorch's variants (TF32, torch.compile, the 2-D GEMM joint
entropy) with their own ratios. Below the table: the geometric mean of the ratios per group. Prints the markdown and,
with --out, writes it. Exit status: 0; 1 when the files share no workload (e.g. one was run with --quick);
2 when a file cannot be read.
"""
import argparse
import json
import math
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc.get("results"), list):
        raise ValueError(f"{path}: no 'results' list")
    return doc


def fmt_ms(v):
    return f"{v:.0f}" if v >= 1000 else f"{v:.4g}"


def fmt_rate(v):
    return "" if v is None else f"{v:.1f}"


def good(r):
    return r is not None and r.get("ok") and isinstance(r.get("ms"), (int, float)) and r["ms"] > 0


def cell(v):
    return str(v).replace("|", "\\|").replace("\n", " ")


def variants_cell(peer, quarry_ms):
    parts = []
    for label, v in (peer or {}).get("variants", {}).items():
        if isinstance(v, (int, float)) and v > 0:
            ratio = f", ratio {v / quarry_ms:.2f}" if quarry_ms else ""
            parts.append(f"{label} {fmt_ms(v)} ms{ratio}")
        else:
            parts.append(f"{label}: {str(v)[:80]}")
    return cell("; ".join(parts))


def table(quarry, peer):
    peers = {r["name"]: r for r in peer["results"]}
    qnames = {r["name"] for r in quarry["results"]}
    lines = [
        "## Quarry vs PyTorch",
        "",
        f"Quarry: {quarry.get('device_name', '?')} (quarry {quarry.get('quarry_version', '?')}, bench_ops). "
        f"PyTorch: {peer.get('device_name', '?')} (torch {peer.get('torch_version', '?')}, torch_ops.py).",
        "",
        "ratio = PyTorch ms / Quarry ms (> 1: Quarry faster). Medians after warm-up; PyTorch's main time is strict "
        "FP32 (TF32 off) and float64 for acquisition, as Quarry computes; its variants are in the last column. "
        "Rows marked (sum) add up the timed steps of the greedy loop.",
        "",
    ]
    if quarry.get("quick") != peer.get("quick"):
        lines += [f"**Warning:** quick sizes differ (Quarry quick={quarry.get('quick')}, "
                  f"PyTorch quick={peer.get('quick')}): workloads will not match.", ""]
    lines += ["| workload | Quarry ms | PyTorch ms | ratio | Quarry GFLOP/s | Quarry GB/s | PyTorch variants |",
              "|---|---:|---:|---:|---:|---:|---|"]
    by_group = {}
    matched = 0
    for q in quarry["results"]:
        p = peers.get(q["name"])
        name = q["name"] + (" (sum)" if q.get("derived") else "")
        q_ms = fmt_ms(q["ms"]) if good(q) else "FAILED: " + cell(q.get("error", ""))[:100]
        if p is None:
            p_ms = "(none)"
        elif good(p):
            p_ms = fmt_ms(p["ms"])
        else:
            p_ms = "FAILED: " + cell(p.get("error", ""))[:100]
        ratio = ""
        if good(q) and good(p):
            matched += 1
            r = p["ms"] / q["ms"]
            ratio = f"{r:.2f}"
            if not q.get("derived"):
                by_group.setdefault(q.get("group", "?"), []).append(r)
        lines.append(f"| {cell(name)} | {q_ms} | {p_ms} | {ratio} | {fmt_rate(q.get('gflops')) if good(q) else ''} | "
                     f"{fmt_rate(q.get('gbs')) if good(q) else ''} | "
                     f"{variants_cell(p, q['ms'] if good(q) else None)} |")
    for p in peer["results"]:
        if p["name"] not in qnames:
            p_ms = fmt_ms(p["ms"]) if good(p) else "FAILED: " + cell(p.get("error", ""))[:100]
            lines.append(f"| {cell(p['name'])} | (none) | {p_ms} |  |  |  | {variants_cell(p, None)} |")
    lines.append("")
    if by_group:
        parts = [f"{g} {math.exp(sum(math.log(r) for r in rs) / len(rs)):.2f} ({len(rs)})"
                 for g, rs in by_group.items()]
        lines.append("Geometric mean of the ratios by group (workloads): " + ", ".join(parts) + ".")
    lines.append(f"{matched} workload(s) timed by both.")
    return "\n".join(lines) + "\n", matched


def is_model_doc(doc):
    return any("images_per_s" in r for r in doc["results"])


def model_table(quarry, peer):
    """bench_resnet vs torch_resnet.py: images/s per workload, PyTorch at each of its precisions."""
    precisions = []
    peers = {}
    for p in peer["results"]:
        if p.get("precision") not in precisions:
            precisions.append(p.get("precision"))
        peers[(p.get("workload"), p.get("precision"))] = p
    lines = [
        "## Whole models: Quarry vs PyTorch (images/s)",
        "",
        f"Quarry: {quarry.get('device_name', '?')} (quarry {quarry.get('quarry_version', '?')}, bench_resnet, fp32). "
        f"PyTorch: {peer.get('device_name', '?')} (torch {peer.get('torch_version', '?')}, torch_resnet.py).",
        "",
        "ratio = Quarry images/s / PyTorch images/s (> 1: Quarry faster), median reps after warm-up. fp32 is strict "
        "float32 (TF32 off), as Quarry computes; tf32 and bf16_amp (autocast) are PyTorch's faster modes. TFLOP/s "
        "counts conv and linear FLOPs only (a training step is 3x the forward).",
        "",
        "| workload | Quarry img/s | Quarry TFLOP/s | "
        + " | ".join(f"PyTorch {p} img/s | ratio" for p in precisions) + " |",
        "|---|---:|---:|" + "---:|---:|" * len(precisions),
    ]
    matched = 0
    for q in quarry["results"]:
        qv = q.get("images_per_s") if q.get("ok") else None
        cells = [cell(q.get("workload", q.get("name", "?"))),
                 f"{qv:.1f}" if qv else "FAILED: " + cell(q.get("error", ""))[:100],
                 f"{q['tflops']:.3g}" if qv and q.get("tflops") else ""]
        for prec in precisions:
            p = peers.get((q.get("workload"), prec))
            pv = p.get("images_per_s") if p and p.get("ok") else None
            if p is None:
                cells += ["(none)", ""]
            elif not pv:
                cells += ["FAILED: " + cell(p.get("error", ""))[:100], ""]
            else:
                cells += [f"{pv:.1f}", f"{qv / pv:.2f}" if qv else ""]
                matched += 1 if qv else 0
        lines.append("| " + " | ".join(cells) + " |")
    qworks = {q.get("workload") for q in quarry["results"]}
    for w in dict.fromkeys(p.get("workload") for p in peer["results"]):
        if w not in qworks:
            cells = [cell(w), "(none)", ""]
            for prec in precisions:
                p = peers.get((w, prec))
                cells += [f"{p['images_per_s']:.1f}" if p and p.get("ok") else "", ""]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{matched} workload/precision pair(s) timed by both.")
    return "\n".join(lines) + "\n", matched


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("quarry_json")
    ap.add_argument("peer_json")
    ap.add_argument("--out", help="also write the markdown here")
    args = ap.parse_args()
    try:
        quarry, peer = load(args.quarry_json), load(args.peer_json)
    except (OSError, ValueError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    if is_model_doc(quarry) != is_model_doc(peer):
        print("compare.py: one file holds whole-model results (bench_resnet / torch_resnet.py), the other kernel "
              "results", file=sys.stderr)
        return 2
    md, matched = (model_table if is_model_doc(quarry) else table)(quarry, peer)
    print(md, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
