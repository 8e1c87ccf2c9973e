#!/usr/bin/python3
"""Checks, with numpy, every .npy file `train` writes: a checkpoint's and the exported codes.

The C++ tests read tapegrad's .npy files back with tapegrad's own reader, so a writer and a reader
that agree on a wrong header, shape, byte order or dtype would still pass. Here numpy (a separate
implementation) loads every parameter and optimizer buffer named by checkpoint.json and the files
of --export-codes, checks dtype, shape and finiteness, and recomputes the codes and reconstructions
from the saved W, b1, b2 and the input data in float64. The data also exercise the new input paths:
float64 Fortran-order training data, float32 test data, int64 / uint8 labels, and the --probe.

Usage: npy_files_match_numpy.py [--keep DIR] TRAIN_BINARY
       npy_files_match_numpy.py --compare-only RUN_DIR   (a run's --out; its data are found through
                                                          the absolute paths in checkpoint.json)
Exit 0 on agreement, 1 naming each file and quantity that disagrees (a missing numpy fails too).
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    sys.exit("FAIL: numpy is missing for " + sys.executable + ": install python3-numpy (apt-get install python3-numpy)")

N_TRAIN, N_TEST, SIDE, K, CLASSES = 600, 150, 8, 8, 3
D = SIDE * SIDE
# Tolerances on codes and reconstructions (max |train - numpy|). In float32 each pre-activation
# X W^T + b1 is a 65-term sum with |x| <= 1 and |W| ~ 0.1..0.3, so sum |x w| ~ 5 and the rounding
# error, ~sqrt(65) * eps32 (6e-8) * 5 ~ 2e-6 for a random walk (worst case 65 * 6e-8 * 5 ~ 2e-5), is
# damped by sigmoid' <= 1/4 to ~6e-7 in the code; the 9-term reconstruction sums add ~5e-7. 1e-5
# is ~10x the expected error yet 100x below the 1e-3 corruption the negative control plants. In
# float64 the same estimates are ~1e-15 (eps64 = 1.1e-16); 1e-10 catches anything done in float32.
TOL = {"float32": 1e-5, "float64": 1e-10}
MIN_PROBE_ACCURACY = 0.9  # three well-separated prototypes: even barely trained codes separate them


def make_data(directory):
    rng = np.random.default_rng(20240612)
    r, c = np.mgrid[0:SIDE, 0:SIDE]
    protos = np.stack([(r < 4), (c < 4), (np.abs(r - c) <= 1)]).reshape(CLASSES, D).astype(np.float64)
    def sample(n):
        y = rng.integers(0, CLASSES, n)
        x = 0.15 + 0.7 * protos[y] * rng.uniform(0.8, 1.0, (n, 1)) + rng.normal(0, 0.1, (n, D))
        return np.clip(x, 0, 1), y
    (xtr, ytr), (xte, yte) = sample(N_TRAIN), sample(N_TEST)
    paths = {k: os.path.join(directory, k + ".npy") for k in ("train", "test", "train-labels", "test-labels")}
    np.save(paths["train"], np.asfortranarray(xtr))  # float64, Fortran order: train converts it
    np.save(paths["test"], xte.astype(np.float32))   # float32, C order: loaded as is
    np.save(paths["train-labels"], ytr.astype(np.int64))
    np.save(paths["test-labels"], yte.astype(np.uint8))
    return paths


def compare(run_dir):
    """Returns (failures, report): what disagrees, and the measured max differences."""
    failures, report, arrays = [], {}, {}
    def fail(msg):
        failures.append(msg)
    def load(rel, shape, dtype):
        path = os.path.join(run_dir, rel)
        try:
            a = np.load(path)
        except Exception as e:  # truncated, bad header, missing
            return fail(f"{rel}: numpy cannot load it: {type(e).__name__}: {e}")
        if a.dtype != dtype:
            return fail(f"{rel}: dtype {a.dtype}, expected {dtype}")
        if a.shape != shape:
            return fail(f"{rel}: shape {a.shape}, expected {shape}")
        if not np.all(np.isfinite(a)):
            return fail(f"{rel}: {int(np.sum(~np.isfinite(a)))} non-finite entries")
        return a

    with open(os.path.join(run_dir, "checkpoint.json")) as f:
        ckpt = json.load(f)
    cfg = ckpt["config"]
    t, dtype, k = cfg["training"], np.dtype(cfg["training"]["dtype"]), cfg["model_options"]["code"]
    xtr = np.load(t["train_npy"]).astype(np.float32).astype(np.float64)  # train reads float32 data
    xte = np.load(t["test_npy"]).astype(np.float32).astype(np.float64)
    d = xtr.shape[1]
    shapes = {"W": (k, d), "b1": (1, k), "b2": (1, d)}
    params = ckpt["parameters"]
    if sorted(p["name"] for p in params) != sorted(shapes):
        fail(f"checkpoint.json: parameters {[p['name'] for p in params]}, expected {sorted(shapes)}")
    for p in params:
        arrays[p["name"]] = load(p["file"], shapes.get(p["name"]), dtype)
    buffers = ckpt["optimizer_state"]["buffers"]
    if cfg["optimizer"] == "adam" and len(buffers) != 2 * len(params):
        fail(f"checkpoint.json: {len(buffers)} optimizer buffers, expected 2 Adam moments x {len(params)} parameters")
    for i, rel in enumerate(buffers):  # optim.hpp: slot-major, each buffer shaped like its parameter
        p = params[i % len(params)]
        b = load(rel, shapes.get(p["name"]), dtype)
        if b is not None and cfg["optimizer"] == "adam" and i >= len(params) and b.min() < 0:
            fail(f"{rel}: Adam second moment of {p['name']} has a negative entry {b.min()!r}")
    codes = {"codes-train.npy": load("codes-train.npy", (len(xtr), k), dtype),
             "codes-test.npy": load("codes-test.npy", (len(xte), k), dtype),
             "reconstructions-test.npy": load("reconstructions-test.npy", (len(xte), d), dtype)}
    if all(a is not None for a in list(arrays.values()) + list(codes.values())) and len(arrays) == 3:
        w, b1, b2 = (arrays[n].astype(np.float64) for n in ("W", "b1", "b2"))
        code = lambda x: 1 / (1 + np.exp(-(x @ w.T + b1)))
        ref = {"codes-train.npy": code(xtr), "codes-test.npy": code(xte), "reconstructions-test.npy": code(xte) @ w + b2}
        for name, want in ref.items():
            diff = np.abs(codes[name] - want)
            i, j = np.unravel_index(np.argmax(diff), diff.shape)
            report[name] = float(diff[i, j])
            if not diff[i, j] <= TOL[dtype.name]:
                fail(f"{name}: value [{i}, {j}] is {codes[name][i, j]!r}, numpy from the checkpoint's W, b1, b2 "
                     f"gives {want[i, j]!r} (|diff| {diff[i, j]:.3g} > tolerance {TOL[dtype.name]:g})")
    probe_path = os.path.join(run_dir, "probe.json")
    if not os.path.exists(probe_path):
        fail("probe.json: missing")
    else:
        with open(probe_path) as f:
            probe = json.load(f)
        classes = int(np.load(t["train_labels_npy"]).max()) + 1
        report["probe test_accuracy"] = acc = probe.get("test_accuracy")
        for q in ("test_accuracy", "train_accuracy"):
            if not (isinstance(probe.get(q), (int, float)) and 0 <= probe[q] <= 1):
                fail(f"probe.json: {q} is {probe.get(q)!r}, expected a number in [0, 1]")
        if probe.get("dimensions") != k or probe.get("classes") != classes:
            fail(f"probe.json: dimensions {probe.get('dimensions')!r}, classes {probe.get('classes')!r}; expected {k}, {classes}")
        if isinstance(acc, (int, float)) and acc < MIN_PROBE_ACCURACY:
            fail(f"probe.json: test_accuracy {acc} < {MIN_PROBE_ACCURACY} on separable prototypes")
    return failures, report


def run_and_compare(train, work):
    data = make_data(work)
    all_failures = []
    for dtype in ("float32", "float64"):
        out = os.path.join(work, dtype)
        cmd = [train, "--progress", "none", "--model", "autoencoder", "--encoder", "sigmoid", "--tied",
               "--code", str(K), "--epochs", "3", "--batch", "32", "--dtype", dtype,
               "--train-npy", data["train"], "--test-npy", data["test"], "--train-labels-npy", data["train-labels"],
               "--test-labels-npy", data["test-labels"], "--probe", "--export-codes", "--out", out]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            all_failures.append(f"{dtype}: train exited {proc.returncode}: {' '.join(cmd)}\n{proc.stdout}")
            continue
        notes = [line for line in proc.stdout.splitlines() if "note" in line.lower()]
        if not any(data["train"] in n for n in notes):
            all_failures.append(f"{dtype}: no 'note' line says {data['train']} (float64, Fortran order) was converted:\n{proc.stdout}")
        if any(data["test"] in n for n in notes):
            all_failures.append(f"{dtype}: a 'note' claims {data['test']} (float32, C order) was converted: {notes}")
        failures, report = compare(out)
        print(f"{dtype}: " + ", ".join(f"{n} {v:.3g}" for n, v in report.items()))
        all_failures += [f"{dtype}: {f}" for f in failures]
    return all_failures


def main(argv):
    if len(argv) == 2 and argv[0] == "--compare-only":
        failures, report = compare(argv[1])
        print(", ".join(f"{n} {v:.3g}" for n, v in report.items()))
    elif len(argv) == 3 and argv[0] == "--keep":
        os.makedirs(argv[1], exist_ok=True)
        failures = run_and_compare(os.path.abspath(argv[2]), os.path.abspath(argv[1]))
    elif len(argv) == 1 and not argv[0].startswith("-"):
        with tempfile.TemporaryDirectory(prefix="npy_files_match_numpy.") as work:
            failures = run_and_compare(os.path.abspath(argv[0]), work)
    else:
        sys.exit(__doc__)
    for f in failures:
        print("FAIL: " + f)
    print(f"numpy {np.__version__}: " + ("the .npy files disagree" if failures else "every .npy file agrees"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
