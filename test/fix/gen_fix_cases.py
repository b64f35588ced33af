"""Broken files for `npzguard fix`, written by numpy, and the arrays numpy itself produces for
each remedy (the expected OUT). Usage: python3 gen_fix_cases.py DIR. Writes DIR/<case>.npz,
DIR/<case>.expected.npz (every key OUT must hold except _metadata) and DIR/cases.json."""
import json
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(14)
M, N = 24, 64


def base(m=M, n=N):
    xs = rng.uniform(40, 160, m)
    ys = rng.uniform(40, 160, m)
    return dict(
        probeGuess=(rng.random((n, n)) + 1j * rng.random((n, n))).astype(np.complex64),
        objectGuess=(rng.random((200, 200)) + 1j * rng.random((200, 200))).astype(np.complex64),
        xcoords=xs, ycoords=ys, xcoords_start=xs.copy(), ycoords_start=ys.copy(),
    )


def amp(m=M, n=N):
    return rng.random((m, n, n)).astype(np.float32)


cases = []


def case(name, inp, expected, args=(), exit=0, compressed=False, meta=None):
    save = np.savez_compressed if compressed else np.savez
    extra = {}
    if meta is not None:
        extra["_metadata"] = np.array(json.dumps(meta), dtype=object)
    save(f"{out}/{name}.npz", **inp, **extra)
    if expected is not None:
        np.savez(f"{out}/{name}.expected.npz", **expected)
    cases.append(dict(name=name, args=list(args), exit=exit, compressed=compressed, expected=expected is not None))


# diff3d -> diffraction (only diff3d)
b = base(); d = amp()
case("diff3d", dict(diff3d=d, **b), dict(diffraction=d, **b))

# integer counts -> float32 sqrt(counts)
b = base(); c = rng.integers(0, 5000, (M, N, N)).astype(np.uint16)
case("uint16", dict(diffraction=c, **b), dict(diffraction=np.sqrt(c.astype(np.float64)).astype(np.float32), **b))

# --normalize: amplitude * sqrt((N/2)^2 / mean per-frame sum of counts)
b = base(); c = rng.integers(0, 5000, (M, N, N)).astype(np.uint16)
s = np.sqrt(((N / 2) ** 2) / (c.astype(np.float64).sum() / M))
case("uint16-normalize", dict(diffraction=c, **b), dict(diffraction=(np.sqrt(c.astype(np.float64)) * s).astype(np.float32), **b), args=["--normalize"])

# signed counts, deflated, renamed from diff3d
b = base(); c = rng.integers(0, 300, (M, N, N)).astype(np.int32)
case("diff3d-int32-deflated", dict(diff3d=c, **b), dict(diffraction=np.sqrt(c.astype(np.float64)).astype(np.float32), **b), compressed=True)

# (M, H, W, 1) -> (M, H, W)
b = base(); d = amp()[..., None]
case("rank4", dict(diffraction=d, **b), dict(diffraction=d[..., 0], **b))

# legacy (H, W, M) -> (M, H, W)
b = base(); d = amp()
case("legacy", dict(diffraction=np.ascontiguousarray(np.transpose(d, (1, 2, 0))), **b), dict(diffraction=d, **b))

# legacy + Fortran order + big-endian uint16, deflated: inflated to a temp file, permuted, swapped, converted
b = base(); c = rng.integers(0, 4000, (N, N, M)).astype(">u2")
legacy_f = np.asfortranarray(c)
case("legacy-fortran-be-deflated", dict(diffraction=legacy_f, **b),
     dict(diffraction=np.sqrt(np.transpose(c, (2, 0, 1)).astype(np.float64)).astype(np.float32), **b), compressed=True)

# complex128 probe / object / Y -> complex64
b = base(); d = amp()
p128 = b["probeGuess"].astype(np.complex128) * (1 + 1e-9j); o128 = b["objectGuess"].astype(np.complex128) / 3
y128 = (rng.random((M, N, N, 1)) + 1j * rng.random((M, N, N, 1))) / 7
inp = dict(b, diffraction=d, probeGuess=p128, objectGuess=o128, Y=y128)
case("complex128", inp, dict(b, diffraction=d, probeGuess=p128.astype(np.complex64), objectGuess=o128.astype(np.complex64),
                             Y=np.squeeze(y128.astype(np.complex64), axis=-1)))

# per-image Y (M, N, N, 1) -> (M, N, N), as transpose_rename_convert does (Fortran order and
# deflated on top); the Phase C singleton Y (1, N, N, 1) is kept as it is
b = base(); d = amp(); y = ((rng.random((M, N, N, 1)) + 1j * rng.random((M, N, N, 1))) / 5).astype(np.complex64)
case("y-rank4", dict(b, diffraction=d, Y=y), dict(b, diffraction=d, Y=np.squeeze(y, axis=-1)))
case("y-rank4-fortran-deflated", dict(b, diffraction=d, Y=np.asfortranarray(y)), dict(b, diffraction=d, Y=np.squeeze(y, axis=-1)), compressed=True)
b = base(); d64 = rng.random((M, N, N)) / 3; ys = (rng.random((1, N, N, 1)) + 1j).astype(np.complex64)
case("y-singleton-kept", dict(b, diffraction=d64, Y=ys), dict(b, diffraction=d64.astype(np.float32), Y=ys))

# float64 diffraction -> float32
b = base(); d64 = rng.random((M, N, N)) / 3
case("float64", dict(diffraction=d64, **b), dict(diffraction=d64.astype(np.float32), **b))

# missing xcoords_start / ycoords_start -> copies
b = base(); d = amp(); del b["xcoords_start"]; del b["ycoords_start"]
case("coords-start", dict(diffraction=d, **b), dict(diffraction=d, xcoords_start=b["xcoords"], ycoords_start=b["ycoords"], **b))

# big-endian members -> little-endian
b = base(); d = amp()
case("big-endian", dict(b, diffraction=d.astype(">f4"), probeGuess=b["probeGuess"].astype(">c8"), xcoords=b["xcoords"].astype(">f8")),
     dict(b, diffraction=d, probeGuess=b["probeGuess"], xcoords=b["xcoords"]))

# Fortran order -> C order
b = base(); d = amp()
case("fortran", dict(b, diffraction=np.asfortranarray(d), objectGuess=np.asfortranarray(b["objectGuess"])), dict(b, diffraction=d))

# pickled object array of str -> numpy unicode; _metadata kept and extended
b = base(); d = amp(); names = np.array([f"frame_{i:03d}_é" for i in range(M)], dtype=object)
meta = {"schema_version": "1.0.0", "physics_parameters": {"N": N, "nphotons": 1e9},
        "data_transformations": [{"tool": "transpose_rename_convert", "timestamp": "2026-01-01T00:00:00Z", "operation": "canonicalize", "parameters": {"flipx": False, "flipy": False}}]}
case("pickled-strings", dict(diffraction=d, filenames=names, **b), dict(diffraction=d, filenames=np.array([str(x) for x in names]), **b), meta=meta)

# diff3d and diffraction byte-identical: diff3d dropped
b = base(); d = amp()
case("diff3d-duplicate", dict(diffraction=d, diff3d=d, **b), dict(diffraction=d, **b))

# ---- unfixable: exit 1, no OUT ----
b = base(); d = amp(); d[3, 4, 5] = np.nan
case("nan", dict(diffraction=d, **b), None, exit=1)
b = base(); d = amp(); d[0, 0, 0] = -1.0
case("negative", dict(diffraction=d, **b), None, exit=1)
b = base(); d = amp(M + 3)
case("mismatched-m", dict(diffraction=d, **b), None, exit=1)
b = base(); d = amp(); del b["probeGuess"]
case("missing-probe", dict(diffraction=d, **b), None, exit=1)
b = base(); d = amp()
case("diff3d-conflict", dict(diffraction=d, diff3d=d + 1, **b), None, exit=1)

with open(f"{out}/cases.json", "w") as f:
    json.dump(cases, f, indent=1)
