#!/usr/bin/env python3
"""Turns the JMH JSON of ConvBench into GFLOP/s per shape and pass.

usage: java -jar target/benchmarks.jar ConvBench -rf json -rff conv.json && python3 benchmarks/jmh/gflops.py conv.json
"""
import json
import sys


def main(path):
    rows = json.load(open(path))
    print(f"{'shape (hw:cin:cout:stride)':28} {'pass':15} {'ms/op':>10} {'+-':>8} {'GFLOP/s':>8}")
    for r in rows:
        if not r["benchmark"].endswith(("forward", "backwardData", "backwardFilter")):
            continue
        p = r["params"]
        hw, cin, cout, stride = map(int, p["shape"].split(":"))
        n = int(p["batch"])
        ho = (hw + 2 - 3) // stride + 1
        flops = 2.0 * n * ho * ho * cout * 9 * cin
        m = r["primaryMetric"]
        ms = m["score"]
        print(f"{p['shape']:28} {r['benchmark'].rsplit('.', 1)[1]:15} {ms:10.2f} {m['scoreError']:8.2f} {flops / ms / 1e6:8.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
