"""Bench case F input: the case A study archive broken the way `npzguard fix` mends.

    python3 bench/gen_fix_data.py STUDY_STORED_NPZ OUT_DIR

From bench case A's study_stored.npz, writes OUT_DIR/fix_stored.npz (np.savez) and
OUT_DIR/fix_deflated.npz (np.savez_compressed) with: diffraction in the legacy (H, W, M)
layout (float32, 333 MB), probeGuess complex128, no xcoords_start / ycoords_start; everything
else (ground_truth_patches 667 MB, objectGuess, coordinates, scan_index) unchanged. About
1.0 GB uncompressed. Each file is written to a temporary name and renamed. Prints one JSON line.
"""

import json
import os
import sys
import time

import numpy as np

src, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
t0 = time.time()
with np.load(src) as z:
    arrays = {k: z[k] for k in z.files if k not in ("xcoords_start", "ycoords_start")}
arrays["diffraction"] = np.ascontiguousarray(np.transpose(arrays["diffraction"], (1, 2, 0)))
arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex128)
written = {}
for name, writer in (("fix_stored.npz", np.savez), ("fix_deflated.npz", np.savez_compressed)):
    final = os.path.join(out_dir, name)
    tmp = os.path.join(out_dir, name + ".tmp.npz")
    writer(tmp, **arrays)
    os.replace(tmp, final)
    written[name] = os.path.getsize(final)
print(json.dumps({"files": written, "uncompressedBytes": int(sum(a.nbytes for a in arrays.values())), "seconds": round(time.time() - t0, 1)}))
