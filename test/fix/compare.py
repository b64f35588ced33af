"""Compares an archive written by npzguard with the arrays numpy computed (EXPECTED.npz), as
numpy loads them. Prints JSON: keys, per-key problems, member compression, parsed _metadata.
Usage: python3 compare.py OUT.npz EXPECTED.npz"""
import json
import sys
import zipfile

import numpy as np

out_path, exp_path = sys.argv[1], sys.argv[2]
problems = []
with np.load(out_path, allow_pickle=False) as got, np.load(exp_path, allow_pickle=False) as exp:
    got_keys = [k for k in got.files if k != "_metadata"]
    if sorted(got_keys) != sorted(exp.files):
        problems.append(f"keys {sorted(got_keys)} != {sorted(exp.files)}")
    for k in exp.files:
        if k not in got.files:
            continue
        a, e = got[k], exp[k]
        if a.dtype.str != e.dtype.str:
            problems.append(f"{k}: dtype {a.dtype.str} != {e.dtype.str}")
        if a.shape != e.shape:
            problems.append(f"{k}: shape {a.shape} != {e.shape}")
        elif not np.array_equal(a, e):
            problems.append(f"{k}: values differ")
        if a.ndim > 1 and not a.flags["C_CONTIGUOUS"]:
            problems.append(f"{k}: not C order")
    meta = None
    if "_metadata" in got.files:
        meta = json.loads(str(got["_metadata"].item()))
with zipfile.ZipFile(out_path) as z:
    methods = {i.filename[:-4]: ("deflated" if i.compress_type == 8 else "stored") for i in z.infolist()}
print(json.dumps({"problems": problems, "methods": methods, "metadata": meta}))
