"""NumPy counterpart of `npzguard report` for the bench (bench/report.mjs): what a notebook does
to look at one file: load it, per-frame totals, non-finite / zero counts per frame, the mean
pattern, the first / median / max-energy frames on a log scale, probe and object amplitude and
phase, and min/max/mean of every numeric array. No CRC check and no page written (both of which
npzguard does), so it measures less work than the report.

    python3 bench/ref_report.py FILE
Prints one JSON line."""

import json
import sys
import time

import numpy as np

t0 = time.perf_counter()
z = np.load(sys.argv[1], allow_pickle=False)
d = z["diffraction"]
flat = d.reshape(d.shape[0], -1)
fin = np.isfinite(flat)
sums = np.where(fin, flat, 0).sum(axis=1)
nonfinite = (~fin).sum(axis=1)
zero_frames = int((np.count_nonzero(flat, axis=1) == 0).sum())
mean = np.nanmean(d, axis=0)
order = np.argsort(sums)
frames = [np.log10(1 + np.maximum(d[i], 0)) for i in (0, order[len(order) // 2], order[-1])]
pics = [np.abs(z["probeGuess"]), np.angle(z["probeGuess"]), np.abs(z["objectGuess"]), np.angle(z["objectGuess"])]
stats = {}
for k in z.files:
    if k == "_metadata":
        continue
    a = z[k]
    if a.dtype.kind in "fiuc":
        stats[k] = (float(np.nanmin(np.abs(a))), float(np.nanmax(np.abs(a))), float(np.nanmean(np.abs(a))))
print(json.dumps({"seconds": time.perf_counter() - t0, "frames": int(d.shape[0]), "nonfinite": int(nonfinite.sum()), "zeroFrames": zero_frames, "mean": float(mean.mean()), "keys": len(stats), "pics": len(frames) + len(pics)}))
