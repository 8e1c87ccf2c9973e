#!/usr/bin/python3
"""Checks `train --model pca` against numpy, computed independently from the raw data.

tests/test_pca.cpp compares the two PCA methods (eigh of the covariance, SVD of the data) of
the same C++ code. Both share the mean, the centring, the sorting and the sign rule, so a bug
in any of these (or in how `train` saves and evaluates the fit) makes both wrong the same way
and that test still passes. Here numpy, a separate implementation, recomputes everything from
the .npy files `train` read: the mean, the top-k components (up to sign), the singular values,
the explained-variance ratio and the train/test reconstruction MSE in metrics.json.

Usage: pca_matches_numpy.py [--keep DIR] TRAIN_BINARY
       pca_matches_numpy.py --compare-only RUN_DIR     (a run's --out; its data is found
                                                         through the paths in metrics.json)
Exit 0 on agreement, 1 naming each quantity that disagrees (never 77: a missing numpy fails).
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

N_TRAIN, N_TEST, D, K = 500, 200, 20, 5
# Planted standard deviations along a random orthonormal basis: the top K are far apart (adjacent
# variance ratios >= 1.8) and far above the rest, so each of the K directions is well defined.
STDDEV = [8.0, 6.0, 4.5, 3.4, 2.5] + [0.5 * 0.9 ** j for j in range(D - K)]

# Tolerances. The fit is done in float64 (pca_baseline.cpp) from float32 data that converts to
# float64 exactly, so numpy and `train` solve the same float64 problem: the mean agrees to a few
# ulps of max|X| (500-term sums: ~1e-12), the components to eps64 * s1^2 / (s_i^2 - s_j^2) ~ 1e-15
# here, the singular values to ~1e-15 relative. 1e-9 leaves orders of magnitude of margin yet
# catches a fit done or stored in float32 (errors ~1e-7), a mean off in one coordinate, or a
# component swapped.
TOL_MEAN = 1e-9        # absolute, max over coordinates (data magnitude ~30)
TOL_COMPONENT = 1e-9   # max |entry difference| after matching signs; also 1 - |<u_i, v_i>|
TOL_SINGULAR = 1e-9    # relative, singular values and explained-variance ratio
# The MSE is evaluated in --dtype. In float32 each reconstructed entry carries a rounding error of
# about (K + 2) * eps32 * max|X| ~ 1e-5 (mean and components rounded to float32, a K-term dot
# product twice) against a residual of rms sqrt(mse) ~ 0.3, so 2 * 1e-5 / 0.3 ~ 7e-5 relative if
# every error pushed the same way; they are uncorrelated with the residual and average over the
# N * D ~ 1e4 entries (/ sqrt(1e4)): ~7e-7 expected (measured: ~1e-8). Hence 1e-5 for float32;
# in float64 the same estimate is ~1e-15, hence 1e-10.
TOL_MSE = {"float32": 1e-5, "float64": 1e-10}


def make_data(directory):
    rng = np.random.default_rng(20240611)
    basis, _ = np.linalg.qr(rng.standard_normal((D, D)))  # columns: orthonormal directions
    mean = 0.5 + 0.1 * np.arange(D)
    def sample(n):
        return (mean + (rng.standard_normal((n, D)) * STDDEV) @ basis.T).astype(np.float32)
    paths = os.path.join(directory, "train.npy"), os.path.join(directory, "test.npy")
    np.save(paths[0], sample(N_TRAIN))
    np.save(paths[1], sample(N_TEST))
    return paths


def reference(train, test, k):
    """numpy's PCA in float64: thin SVD of the centred training data."""
    x, t = train.astype(np.float64), test.astype(np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    v = vt[:k]
    def mse(a):
        return float(np.mean(((a - mean) @ v.T @ v + mean - a) ** 2))
    total = float(np.sum(np.var(x, axis=0, ddof=1)))
    return {"mean": mean, "components": v, "singular": s[:k], "train_mse": mse(x), "test_mse": mse(t),
            "ratio": float(np.sum(s[:k] ** 2) / (len(x) - 1) / total)}


def compare(run_dir):
    """Returns (failures, report): what disagrees, and the measured errors of everything."""
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    cfg = metrics["config"]
    k, dtype = cfg["model_options"]["code"], cfg["training"]["dtype"]
    ref = reference(np.load(cfg["training"]["train_npy"]), np.load(cfg["training"]["test_npy"]), k)
    mean = np.load(os.path.join(run_dir, "pca-mean.npy"))
    comps = np.load(os.path.join(run_dir, "pca-components.npy"))
    failures, report = [], {}

    def check(name, error, tol, detail):
        report[name] = error
        if not error <= tol:  # also fails on NaN
            failures.append(f"{name}: error {error:.3g} > tolerance {tol:g} ({detail})")

    if mean.shape != (1, D) or comps.shape != (k, D):
        return [f"shapes: pca-mean.npy {mean.shape}, pca-components.npy {comps.shape}, expected (1, {D}), ({k}, {D})"], report
    mean = mean[0]
    j = int(np.argmax(np.abs(mean - ref["mean"])))
    check("mean", abs(mean[j] - ref["mean"][j]), TOL_MEAN, f"coordinate {j}: train {mean[j]!r}, numpy {ref['mean'][j]!r}")
    for i in range(k):
        u, v = comps[i], ref["components"][i]
        dot = float(u @ v)
        check(f"component {i} alignment 1-|<u,v>|", 1 - abs(dot), TOL_COMPONENT,
              f"<train, numpy> = {dot!r}; |<train row {i}, numpy rows>| = {np.round(np.abs(ref['components'] @ u), 6).tolist()}")
        diff = np.abs(u - np.sign(dot) * v)
        jj = int(np.argmax(diff))
        check(f"component {i} entries", float(diff[jj]), TOL_COMPONENT,
              f"entry {jj}: train {u[jj]!r}, numpy (sign matched) {np.sign(dot) * v[jj]!r}")
        big = int(np.argmax(np.abs(u)))  # pca.hpp: the largest-magnitude entry of each row is positive
        if u[big] < 0:
            failures.append(f"component {i} sign: its largest-magnitude entry {big} is {u[big]!r}, documented positive")
    sv = np.asarray(metrics["singular_values"], dtype=np.float64)
    if sv.shape != (k,):
        failures.append(f"singular_values: {sv.shape[0] if sv.ndim else 'no'} values in metrics.json, expected {k}")
    else:
        rel = np.abs(sv - ref["singular"]) / ref["singular"]
        i = int(np.argmax(rel))
        check("singular values (relative)", float(rel[i]), TOL_SINGULAR,
              f"value {i}: train {sv[i]!r}, numpy {ref['singular'][i]!r}")
    r = metrics["explained_variance_ratio"]
    check("explained_variance_ratio (relative)", abs(r - ref["ratio"]) / ref["ratio"], TOL_SINGULAR,
          f"train {r!r}, numpy {ref['ratio']!r}")
    for name in ("train_mse", "test_mse"):
        got = metrics[name]
        check(f"{name} (relative, {dtype})", abs(got - ref[name]) / ref[name], TOL_MSE[dtype],
              f"metrics.json {got!r}, numpy {ref[name]!r}")
    return failures, report


def summary(report):
    """The measured errors, the K components' folded into their maxima."""
    comp = {n: e for n, e in report.items() if n.startswith("component ")}
    rest = [f"{n} {e:.2g}" for n, e in report.items() if n not in comp]
    if comp:
        rest[1:1] = [f"components: max entry error {max(e for n, e in comp.items() if n.endswith('entries')):.2g}, "
                     f"max 1-|<u,v>| {max(e for n, e in comp.items() if 'alignment' in n):.2g}"]
    return ", ".join(rest)


def run_and_compare(train, work):
    data = make_data(work)
    all_failures = []
    for method in ("eigh", "svd"):
        for dtype in ("float32", "float64"):
            out = os.path.join(work, f"{method}-{dtype}")
            cmd = [train, "--model", "pca", "--code", str(K), "--pca-method", method, "--dtype", dtype,
                   "--train-npy", data[0], "--test-npy", data[1], "--out", out, "--progress", "none", "--threads", "1"]
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                all_failures.append(f"{method}/{dtype}: train exited {proc.returncode}: {' '.join(cmd)}\n{proc.stdout}")
                continue
            failures, report = compare(out)
            print(f"{method}/{dtype}: {summary(report)}")
            all_failures += [f"{method}/{dtype}: {f}" for f in failures]
    return all_failures


def main(argv):
    if len(argv) == 2 and argv[0] == "--compare-only":
        failures, report = compare(argv[1])
        print(summary(report))
    elif len(argv) == 3 and argv[0] == "--keep":
        os.makedirs(argv[1], exist_ok=True)
        failures = run_and_compare(os.path.abspath(argv[2]), os.path.abspath(argv[1]))
    elif len(argv) == 1 and not argv[0].startswith("-"):
        with tempfile.TemporaryDirectory(prefix="pca_matches_numpy.") as work:
            failures = run_and_compare(os.path.abspath(argv[0]), work)
    else:
        sys.exit(__doc__)
    for f in failures:
        print("FAIL: " + f)
    print(f"numpy {np.__version__}: " + ("PCA disagrees" if failures else "PCA agrees"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
