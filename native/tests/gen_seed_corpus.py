#!/usr/bin/env python3
"""Write the libFuzzer seed corpora for every fuzz target into native/tests/corpus/<target>/.

    python3 native/tests/gen_seed_corpus.py          # from the repository root (needs numpy)

Targets and what they get:
  fuzz_npy_header    .npy files of many dtypes, shapes, orders and format versions 1.0/2.0/3.0
  fuzz_pickle        .npy files of object arrays (np.save(allow_pickle=True)) and bare pickles
                     of object arrays with protocols 2, 3, 4 and 5, incl. a _metadata payload
  fuzz_zip_index     small np.savez / np.savez_compressed archives
  fuzz_archive_scan  the same kind of archives, with values worth scanning (NaN, inf, bool 2)
  fuzz_inflate       raw DEFLATE streams (stored, fixed, dynamic, Huffman-only, RLE) of float
                     noise, text-like bytes and runs, behind the two piece-size bytes
  fuzz_crc32         a few byte strings (seed + split prefix, then data)
  fuzz_parallel_inflate  raw DEFLATE streams mixing stored / fixed / dynamic blocks (and a
                     level-0 stream holding DEFLATE data) behind the three option bytes
                     (threads, chunk size, overhang/cap): 2-3 KiB each, so tiny chunks split them

    python3 native/tests/gen_seed_corpus.py fuzz_inflate fuzz_crc32   # only those targets

Files are named after their content so re-running replaces rather than accumulates them.
Archives embed DOS timestamps, so their bytes (and names) change between runs. The whole
corpus stays well under 1 MB.
"""
import hashlib
import io
import json
import os
import pickle
import warnings

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
MAX_FILE = 96 * 1024


def write(target, label, data):
    if len(data) > MAX_FILE:
        raise SystemExit(f"seed {target}/{label} is {len(data)} bytes (cap {MAX_FILE})")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:10]
    with open(os.path.join(d, f"{label}-{digest}"), "wb") as f:
        f.write(data)


def npy_bytes(arr, version=None, allow_pickle=False):
    b = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if version is None:
            np.save(b, arr, allow_pickle=allow_pickle)
        else:
            npformat.write_array(b, arr, version=version, allow_pickle=allow_pickle)
    return b.getvalue()


def clean(target):
    d = os.path.join(OUT, target)
    if os.path.isdir(d):
        for name in os.listdir(d):
            os.remove(os.path.join(d, name))


def metadata_text():
    return json.dumps({"nphotons": 1e9, "gridsize": 1, "N": 64, "probe_scale": 4.0,
                       "created_by": "gen_seed_corpus"}, indent=2)


def npy_header_seeds():
    rng = np.random.default_rng(1)
    arrays = {
        "f4_3d": rng.random((2, 3, 4), dtype=np.float32),
        "f8_0d": np.float64(1.5),
        "f2": np.arange(4, dtype="<f2"),
        "b1": np.array([True, False]),
        "i1": np.arange(3, dtype="i1"),
        "i2": np.arange(3, dtype="<i2"),
        "i4": np.arange(3, dtype="<i4"),
        "i8": np.arange(3, dtype="<i8"),
        "u1": np.arange(3, dtype="u1"),
        "u2": np.arange(3, dtype="<u2"),
        "u4": np.arange(3, dtype="<u4"),
        "u8": np.arange(3, dtype="<u8"),
        "c8": np.ones((2, 2), dtype="<c8"),
        "c16": np.ones(2, dtype="<c16"),
        "U8": np.array("abcdefgh"),
        "U_1d": np.array(["x", "yz"]),
        "S3": np.array([b"abc", b"d"]),
        "O": np.array("x", dtype=object),
        "be_f4": np.ones(3, dtype=">f4"),
        "be_i8": np.ones(3, dtype=">i8"),
        "be_U5": np.array(["ab"], dtype=">U5"),
        "M8": np.zeros(2, dtype="<M8[ns]"),
        "m8": np.zeros(2, dtype="<m8[s]"),
        "V8": np.zeros(2, dtype="V8"),
        "f16": np.zeros(2, dtype=np.longdouble),
        "c32": np.zeros(2, dtype=np.clongdouble),
        "empty": np.zeros((0,), dtype="<f4"),
        "empty_2d": np.zeros((0, 5), dtype="<f8"),
        "fortran": np.asfortranarray(np.arange(12, dtype="<f4").reshape(3, 4)),
        "struct": np.zeros(2, [("x", "<f4"), ("y", [("a", "<i2"), ("b", "S3")], (2,))]),
        "ndim8": np.zeros((1,) * 8, dtype="u1"),
    }
    for label, arr in arrays.items():
        write("fuzz_npy_header", label, npy_bytes(arr, allow_pickle=arr.dtype.hasobject))
    write("fuzz_npy_header", "v2", npy_bytes(np.arange(6.0).reshape(2, 3), version=(2, 0)))
    write("fuzz_npy_header", "v3_struct",
          npy_bytes(np.zeros(2, [("\u00e9\u4e2d", "<f4")]), version=(3, 0)))
    write("fuzz_npy_header", "v3_auto", npy_bytes(np.zeros(2, [("\u4e2d", "<f4")])))
    # hand-written variants of the grammar numpy itself does not produce but npzguard accepts
    for label, text in {
        "dq_unpadded": "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}\n",
        "long_suffix": "{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 1L), }\n",
    }.items():
        body = text.encode()
        write("fuzz_npy_header", label,
              b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + bytes(8 * 2))


def pickle_seeds():
    meta = metadata_text()
    objs = {
        "meta": np.array(meta, dtype=object),
        "none": np.array(None, dtype=object),
        "str_1d": np.array(["alpha", "beta", None, "alpha"], dtype=object),
        "str_2d_F": np.array([["a", "b", "c"], ["d", None, "f"]], dtype=object).T,
        "empty": np.array([], dtype=object),
        "long300": np.array("x" * 300, dtype=object),
        "batches": np.array([f"k{i % 9}" for i in range(1100)], dtype=object),
        "unicode": np.array("caf\u00e9 \u4e2d \U0001F600", dtype=object),
    }
    for label, arr in objs.items():
        write("fuzz_pickle", f"npy_{label}", npy_bytes(arr, allow_pickle=True))
        for proto in (2, 3, 4, 5):
            write("fuzz_pickle", f"p{proto}_{label}", pickle.dumps(arr, protocol=proto))
    # one-item object arrays holding plain values (pickled `_metadata` dicts): walk_object_value
    plain = {
        "dict_meta": {"schema_version": "1.0.0", "physics_parameters": {"nphotons": 1e9, "N": 64},
                      "data_transformations": [{"tool": "t", "parameters": {"flipx": False}}]},
        "dict_values": {"i": [0, -1, 2**31, 2**63, -2**64, 10**40], "f": [1e-20, float("nan"), -0.0],
                        "t": (1, (None, True)), 3: "int key", 2.5: "float key", None: [], "u": "é😀"},
        "list_shared": [[1, 2]] * 3,
        "dict_bad_set": {"s": {1, 2}},
    }
    for label, value in plain.items():
        arr = np.array(value, dtype=object) if not isinstance(value, list) else np.empty((), dtype=object)
        if isinstance(value, list):
            arr[()] = value
        write("fuzz_pickle", f"npy_{label}", npy_bytes(arr, allow_pickle=True))
        for proto in (2, 3):
            write("fuzz_pickle", f"p{proto}_{label}", pickle.dumps(arr, protocol=proto))
    # numpy 1.x spelling of the module
    p3 = pickle.dumps(objs["meta"], protocol=3).replace(b"numpy._core.multiarray",
                                                        b"numpy.core.multiarray")
    write("fuzz_pickle", "p3_meta_np1", p3)
    # > 64 KiB string: written outside the protocol-4 frame
    write("fuzz_pickle", "npy_huge", npy_bytes(np.array("y" * 66000, dtype=object),
                                               allow_pickle=True))
    # a few things the walker must refuse, as starting points
    write("fuzz_pickle", "bad_float_array", pickle.dumps(np.zeros(2), protocol=4))
    write("fuzz_pickle", "bad_dict", pickle.dumps({"a": 1}, protocol=4))
    write("fuzz_pickle", "bad_int_item", npy_bytes(np.array([1, "a"], dtype=object),
                                                   allow_pickle=True))


def npz_bytes(arrays, compressed):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()


def archive_seeds():
    rng = np.random.default_rng(2)
    n = 4
    data001 = {
        "diffraction": rng.poisson(2.0, (n, 8, 8)).astype(np.float32),
        "objectGuess": (rng.random((16, 16)) + 1j * rng.random((16, 16))).astype(np.complex64),
        "probeGuess": np.ones((8, 8), dtype=np.complex64),
        "xcoords": rng.random(n),
        "ycoords": rng.random(n),
        "scan_index": np.arange(n, dtype=np.int64),
    }
    with_meta = dict(data001)
    with_meta["_metadata"] = np.array(metadata_text(), dtype=object)
    odd = {
        "nan": np.array([1.0, np.nan, np.inf, -np.inf], dtype=np.float32),
        "bools": np.frombuffer(bytes([0, 1, 2, 1]), dtype=np.bool_),
        "big": np.arange(5, dtype=">f8"),
        "fortran": np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)),
        "scalar": np.float64(3.0),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "text": np.array("hello"),
        "raw": np.array([b"ab"]),
    }
    small = {"a": np.arange(3, dtype=np.float32)}
    for target in ("fuzz_zip_index", "fuzz_archive_scan"):
        for compressed in (False, True):
            kind = "deflated" if compressed else "stored"
            write(target, f"data001_{kind}", npz_bytes(data001, compressed))
            write(target, f"data001_meta_{kind}", npz_bytes(with_meta, compressed))
            write(target, f"odd_{kind}", npz_bytes(odd, compressed))
            write(target, f"small_{kind}", npz_bytes(small, compressed))
        write(target, "empty_archive", npz_bytes({}, False))
        b = io.BytesIO()
        np.savez(b, np.arange(2), np.ones(2))  # positional: arr_0, arr_1
        write(target, "positional", b.getvalue())
        write(target, "plain_npy", npy_bytes(np.arange(4, dtype=np.float32)))


def inflate_seeds():
    import zlib
    target = "fuzz_inflate"
    rng = np.random.default_rng(3)
    data = {
        "noise": rng.standard_normal(1024).astype(np.float32).tobytes(),
        "text": (b"the quick brown fox jumps over the lazy dog " * 60),
        "runs": bytes(1000) + bytes(range(256)) * 3,
        "empty": b"",
    }
    strategies = {"default": zlib.Z_DEFAULT_STRATEGY, "fixed": zlib.Z_FIXED,
                  "huffman": zlib.Z_HUFFMAN_ONLY, "rle": zlib.Z_RLE}
    for name, raw in data.items():
        for sname, strat in strategies.items():
            for level in (0, 6):
                if level == 0 and sname != "default":
                    continue
                c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strat)
                z = c.compress(raw) + c.flush()
                write(target, f"{name}_{sname}_l{level}", bytes([0x07, 0x03]) + z)
    # Outputs of 64 KiB per step over 200 KiB of float noise and text: the decoder then writes
    # straight into the step's buffer once it holds a window ("Direct output").
    big = rng.standard_normal(25600).astype(np.float32).tobytes() + data["text"] * 10
    for level in (1, 6):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
        write(target, f"direct_l{level}", bytes([0x4A, 0xF4]) + c.compress(big) + c.flush())


def parallel_seeds():
    import zlib
    target = "fuzz_parallel_inflate"
    rng = np.random.default_rng(4)
    block = rng.integers(0, 256, 700, dtype=np.uint8).tobytes()
    data = {
        "noise": rng.standard_normal(700).astype(np.float32).tobytes(),
        "repeats": block * 4,
        "text": (b"the quick brown fox jumps over the lazy dog " * 70),
    }
    for name, raw in data.items():
        for mix in ((6,), (0, 6), (1, 0, 9), ("fixed", 6)):
            # memLevel 1: a block every 128 symbols, so small inputs hold many block boundaries
            c = zlib.compressobj(mix[0] if mix[0] != "fixed" else 6, zlib.DEFLATED, -15, 1)
            z = b""
            parts = len(mix)
            for i, lv in enumerate(mix):
                piece = raw[len(raw) * i // parts: len(raw) * (i + 1) // parts]
                if lv == "fixed":
                    c = zlib.compressobj(6, zlib.DEFLATED, -15, 1, zlib.Z_FIXED)
                    z += c.compress(piece) + c.flush(zlib.Z_FULL_FLUSH)
                    continue
                if i > 0:
                    z += c.flush(zlib.Z_SYNC_FLUSH)
                    c2 = zlib.compressobj(lv, zlib.DEFLATED, -15, 1)
                    c = c2
                z += c.compress(piece)
            z += c.flush()
            tag = "_".join(str(m) for m in mix)
            write(target, f"{name}_{tag}", bytes([0x41, 0x04, 0x02]) + z)
    inner = zlib.compressobj(6, zlib.DEFLATED, -15)
    inner_z = inner.compress(data["text"][:1500]) + inner.flush(zlib.Z_SYNC_FLUSH)
    outer = zlib.compressobj(0, zlib.DEFLATED, -15)
    write(target, "false_positives", bytes([0x43, 0x02, 0x08]) + outer.compress(inner_z * 3) + outer.flush())


def crc32_seeds():
    target = "fuzz_crc32"
    for n in (0, 15, 64, 300, 4100):
        write(target, f"len{n}", bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x21]) + bytes((i * 7) & 0xFF for i in range(n)))


def main():
    import sys
    gens = {"fuzz_npy_header": npy_header_seeds, "fuzz_pickle": pickle_seeds,
            "fuzz_zip_index": None, "fuzz_archive_scan": archive_seeds,
            "fuzz_inflate": inflate_seeds, "fuzz_crc32": crc32_seeds,
            "fuzz_parallel_inflate": parallel_seeds}
    only = sys.argv[1:] or list(gens)
    for t in only:
        if t not in gens:
            raise SystemExit(f"unknown target {t}")
        clean(t)
    if "fuzz_zip_index" in only and "fuzz_archive_scan" not in only:
        clean("fuzz_archive_scan")
        only.append("fuzz_archive_scan")  # archive_seeds writes both
    for t in only:
        if gens[t]:
            gens[t]()
    total = 0
    for root, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"corpus: {total} bytes in {OUT}")
    if total >= 1 << 20:
        raise SystemExit("corpus exceeds 1 MB")


if __name__ == "__main__":
    main()
