"""NumPy reference side of the bench (see bench/README.md).

    python3 bench/ref_numpy.py check FILE        what the study's trainer does before training:
                                                 dict(np.load(f, allow_pickle=True)) (reads and
                                                 CRC-checks every member) + the DATA-001 value
                                                 checks in NumPy; prints one JSON line
    python3 bench/ref_numpy.py array FILE RUNS   in-process: best of RUNS of
                                                 np.load(f)["diffraction"]; prints one JSON line
    python3 bench/ref_numpy.py memcpy BYTES RUNS machine context: best of RUNS of copying BYTES
                                                 into a new array
"""

import json
import sys
import time

import numpy as np


def value_checks(data):
    d = data["diffraction"]
    finite = np.isfinite(d)
    n_finite = int(np.count_nonzero(finite))
    out = {
        "diffractionElements": int(d.size),
        "diffractionNonFinite": int(d.size - n_finite),
        "diffractionNegative": int(np.count_nonzero(d < 0)),
        "diffractionZero": int(np.count_nonzero(d == 0)),
        "diffractionMin": float(np.min(d[finite])) if n_finite else None,
        "diffractionMax": float(np.max(d[finite])) if n_finite else None,
        "diffractionMean": float(np.mean(d[finite], dtype=np.float64)) if n_finite else None,
    }
    p = data["probeGuess"]
    out["probeFinite"] = bool(np.isfinite(p.real).all() and np.isfinite(p.imag).all())
    out["probeEnergy"] = float(np.sum(np.abs(p) ** 2, dtype=np.float64))
    o = data["objectGuess"]
    out["objectFinite"] = bool(np.isfinite(o.real).all() and np.isfinite(o.imag).all())
    out["coordsFinite"] = bool(all(np.isfinite(data[k]).all() for k in ("xcoords", "ycoords") if k in data))
    out["ok"] = (
        out["diffractionNonFinite"] == 0
        and out["diffractionNegative"] == 0
        and out["diffractionZero"] < out["diffractionElements"]
        and out["probeFinite"]
        and out["probeEnergy"] > 0
        and out["objectFinite"]
        and out["coordsFinite"]
    )
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "check":
        with np.load(path, allow_pickle=True) as f:
            data = dict(f)
        print(json.dumps(value_checks(data)))
    elif mode == "array":
        runs = int(sys.argv[3])
        best = None
        nbytes = 0
        for _ in range(runs):
            t0 = time.perf_counter()
            with np.load(path) as f:
                a = f["diffraction"]
            dt = time.perf_counter() - t0
            nbytes = a.nbytes
            del a
            best = dt if best is None else min(best, dt)
        print(json.dumps({"seconds": best, "bytes": nbytes, "runs": runs}))
    elif mode == "memcpy":
        nbytes, runs = int(path), int(sys.argv[3])
        src = np.full(nbytes, 7, dtype=np.uint8)
        best = None
        for _ in range(runs):
            t0 = time.perf_counter()
            dst = src.copy()
            dt = time.perf_counter() - t0
            del dst
            best = dt if best is None else min(best, dt)
        print(json.dumps({"seconds": best, "bytes": nbytes, "runs": runs}))
    else:
        raise SystemExit("usage: ref_numpy.py check FILE | array FILE RUNS | memcpy BYTES RUNS")


if __name__ == "__main__":
    main()
