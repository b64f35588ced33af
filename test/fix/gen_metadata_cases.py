"""Pickled-dict `_metadata` cases for `npzguard fix`, written by numpy, and their check.
  python3 gen_metadata_cases.py gen DIR       writes DIR/<case>.npz and DIR/cases.json
  python3 gen_metadata_cases.py dumps IN      prints json.dumps(d, indent=2) of IN's pickled dict
  python3 gen_metadata_cases.py compare IN OUT
      prints JSON {text_equal, member_equal, record, problems}: OUT's `_metadata` text must be
      exactly json.dumps(d + the appended npzguard record, indent=2) of IN's dict d (loaded here
      with allow_pickle=True), and every other member of OUT equal to IN's."""
import datetime
import io
import json
import pickle
import sys
import zipfile

import numpy as np


def load_dict(path):
    with np.load(path, allow_pickle=True) as z:
        return z["_metadata"].item()


def base(rng, m=16, n=64):
    xs = rng.uniform(40, 160, m)
    ys = rng.uniform(40, 160, m)
    return dict(
        diffraction=rng.random((m, n, n)).astype(np.float32),
        probeGuess=(rng.random((n, n)) + 1j * rng.random((n, n))).astype(np.complex64),
        objectGuess=(rng.random((200, 200)) + 1j * rng.random((200, 200))).astype(np.complex64),
        xcoords=xs, ycoords=ys, xcoords_start=xs.copy(), ycoords_start=ys.copy(),
    )


def write_manual(path, arrays, meta, protocol, deflate):
    """An .npz whose `_metadata` pickle uses `protocol` (2: numpy 1.x with _codecs.encode)."""
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        for k, v in arrays.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asanyarray(v))
            z.writestr(f"{k}.npy", b.getvalue())
        arr = np.array(meta, dtype=object)
        b = io.BytesIO()
        np.lib.format.write_array_header_1_0(b, np.lib.format.header_data_from_array_1_0(arr))
        pickle.dump(arr, b, protocol=protocol)  # what np.save does, with numpy 1.x's protocol
        z.writestr("_metadata.npy", b.getvalue())


def gen(out):
    rng = np.random.default_rng(1414)
    cases = []

    def case(name, meta, ok=True, refusal=None, protocol=None, deflate=False):
        arrays = base(rng)
        if protocol is None:
            (np.savez_compressed if deflate else np.savez)(f"{out}/{name}.npz", _metadata=np.array(meta, dtype=object), **arrays)
        else:
            write_manual(f"{out}/{name}.npz", arrays, meta, protocol, deflate)
        cases.append(dict(name=name, ok=ok, refusal=refusal, compressed=deflate))

    manager = {
        "schema_version": "1.0.0",
        "creation_info": {"timestamp": "2026-01-01T00:00:00Z", "script": "simulate.py", "hostname": "nodé-1", "ptychopinn_version": "2.0"},
        "physics_parameters": {"nphotons": 1e9, "gridsize": 1, "N": 64, "probe_trainable": False, "intensity_scale_trainable": True, "nll_weight": 1.0, "model_type": "pinn"},
        "training_parameters": {"n_images": 5088, "batch_size": 16, "nepochs": 50},
        "data_transformations": [
            {"tool": "transpose_rename_convert", "timestamp": "2026-01-01T00:00:01Z", "operation": "canonicalize", "parameters": {"flipx": False, "flipy": False}},
        ],
        "floats": [1e-20, 1e16, 1e22, 123.0, -0.0, 0.1, 5e-324, 1.7976931348623157e308, float("nan"), float("inf"), float("-inf"), 2.5e-5, 1e-4],
        "ints": [0, -1, 255, 65535, 2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**63, 2**64, -2**64 - 1, 10**40, -(10**40)],
        "tuple": (1, "two", (3.0, None), [True, False]),
        "empty": {"list": [], "tuple": (), "dict": {}, "str": ""},
        "text": "é ü 中文 😀 \u2028 \x01 \x7f \"quoted\" back\\slash \n\t",
        "nested": {"a": {"b": {"c": {"d": [1, [2, [3, {"e": None}]]]}}}},
    }
    case("manager", manager)
    case("manager-deflated", manager, deflate=True)
    case("keys", {"b": 1, "10": 2, 3: "int key", 2.5: "float key", None: "none key", -7: [], 1e-7: "small", False: "false key", "z": 0})
    shared = [1, 2]
    case("shared-refs", {"a": shared, "b": shared, "c": {"x": shared}})
    deep = "leaf"
    for _ in range(40):
        deep = [deep]
    case("deep-40", {"deep": deep})
    case("proto2-deflated", dict(manager, extra={"big": 2**64, "f": 1e-20}), protocol=2, deflate=True)
    case("proto3", manager, protocol=3)

    # refused: the walker never builds these; fix keeps _metadata as it is and says why
    case("numpy-scalar", {"nphotons": np.float64(1e9)}, ok=False, refusal="not whitelisted")
    case("datetime", {"when": datetime.datetime(2026, 1, 1)}, ok=False, refusal="datetime.datetime is not whitelisted")
    case("set", {"s": {1, 2}}, ok=False, refusal="opcode not allowed")
    case("bytes", {"b": b"raw"}, ok=False, refusal="bytes")
    case("tuple-key", {(1, 2): "x"}, ok=False, refusal="dict key")
    too_deep = 0
    for _ in range(70):
        too_deep = [too_deep]
    case("too-deep", {"deep": too_deep}, ok=False, refusal="nested deeper than 64")
    with open(f"{out}/cases.json", "w") as f:
        json.dump(cases, f, indent=1)


def compare(inp, out):
    d = load_dict(inp)
    problems = []
    with np.load(out, allow_pickle=False) as z:
        meta = z["_metadata"]
        if meta.dtype.kind != "U" or meta.shape != ():
            problems.append(f"_metadata is {meta.dtype.str} {meta.shape}, not a 0-d <U string")
        text = str(meta.item())
        with np.load(inp, allow_pickle=True) as zi:
            for k in zi.files:
                if k != "_metadata" and not np.array_equal(zi[k], z[k]):
                    problems.append(f"{k} differs")
    got = json.loads(text)
    record = got["data_transformations"][-1]
    expected = dict(d)
    expected["data_transformations"] = list(d.get("data_transformations", [])) + [record]
    want = json.dumps(expected, indent=2)
    return dict(text_equal=text == want, parsed_equal=json.dumps(got, indent=2) == want, record=record, problems=problems,
                text=text if text != want else None, want=want if text != want else None)


def member_bytes(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "dumps":
        sys.stdout.write(json.dumps(load_dict(sys.argv[2]), indent=2))
    elif sys.argv[1] == "compare":
        print(json.dumps(compare(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "same-member":
        print(json.dumps(member_bytes(sys.argv[2], "_metadata.npy") == member_bytes(sys.argv[3], "_metadata.npy")))
