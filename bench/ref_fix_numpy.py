"""numpy reference for bench case F: what a user writes by hand without npzguard.

    python3 bench/ref_fix_numpy.py fix|rewrite IN OUT stored|deflated

fix:     the remedies `npzguard fix` applies to the case F file (legacy (H, W, M) diffraction
         transposed to (M, H, W), complex128 probe cast to complex64, *_start copied from the
         coordinates), then np.savez / np.savez_compressed.
rewrite: load every array and write them again (the closest numpy has to `repack`; numpy
         cannot align members).
"""

import sys

import numpy as np

mode, src, dst, kind = sys.argv[1:5]
with np.load(src) as z:
    arrays = {k: z[k] for k in z.files}
if mode == "fix":
    arrays["diffraction"] = np.ascontiguousarray(np.transpose(arrays["diffraction"], (2, 0, 1)))
    arrays["probeGuess"] = arrays["probeGuess"].astype(np.complex64)
    arrays["xcoords_start"] = arrays["xcoords"].copy()
    arrays["ycoords_start"] = arrays["ycoords"].copy()
elif mode != "rewrite":
    sys.exit(f"unknown mode {mode}")
(np.savez if kind == "stored" else np.savez_compressed)(dst, **arrays)
