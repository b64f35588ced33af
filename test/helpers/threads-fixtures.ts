// numpy-written files large enough for the core's multi-threaded paths (STORED scans and copies
// split above 64 MiB), for the tests that compare results at different `threads` counts:
// diffraction (300x256x256 float32 amplitudes, 75 MiB; not integers, so float sums that
// depended on how a member is cut would differ) with NaN / +-Inf / negatives / zeros placed at the
// start, on both sides of the middle (where a two-way split cuts) and at the end, plus small
// coordinate, probe and complex ground-truth members. Written once per test file by python3 +
// numpy: `stored.npz` (np.savez), `deflated.npz` (np.savez_compressed) and `stored-badcrc.npz`
// (one data byte flipped in the second half of diffraction).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const SCRIPT = String.raw`
import sys, os, zipfile
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(12)
n, h, w = 300, 256, 256
d = (np.sqrt(rng.poisson(3.0, size=(n, h, w))) * 0.37).astype(np.float32)  # amplitudes: sums round
flat = d.reshape(-1)
mid = flat.size // 2
for i, v in [(0, np.nan), (1, np.inf), (mid - 2, -1.5), (mid - 1, np.nan), (mid, -np.inf), (mid + 1, -7.0),
             (mid + 2, np.inf), (flat.size - 2, -0.25), (flat.size - 1, np.nan)]:
    flat[i] = v
d[7] = 0  # a zero-energy frame
arrays = dict(
    diffraction=d,
    xcoords=np.linspace(-5, 5, n),
    ycoords=np.linspace(3, -3, n),
    probeGuess=(rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))).astype(np.complex64),
    objectGuess=np.ones((300, 300), np.complex64),
    Y=(rng.standard_normal((n, 32, 32, 1)) + 1j).astype(np.complex64),
)
np.savez(os.path.join(out, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(out, "deflated.npz"), **arrays)
# Flip one byte three quarters into diffraction's data (STORED: the member's bytes are the file's).
src = os.path.join(out, "stored.npz")
with zipfile.ZipFile(src) as z:
    info = z.getinfo("diffraction.npy")
with open(src, "rb") as f:
    f.seek(info.header_offset + 26)
    name_len, extra_len = np.frombuffer(f.read(4), "<u2")
data_start = info.header_offset + 30 + int(name_len) + int(extra_len)
bad = os.path.join(out, "stored-badcrc.npz")
with open(src, "rb") as f:
    blob = bytearray(f.read())
blob[data_start + 128 + (info.file_size * 3) // 4] ^= 0x40
with open(bad, "wb") as f:
    f.write(blob)
`;

export interface ThreadsFixtures {
  dir: string;
  stored: string;
  deflated: string;
  storedBadCrc: string;
  cleanup(): void;
}

export function writeThreadsFixtures(): ThreadsFixtures {
  const dir = mkdtempSync(path.join(tmpdir(), "npzguard-threads-"));
  const r = spawnSync("python3", ["-c", SCRIPT, dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`python3 + numpy could not write the fixtures: ${r.error?.message ?? r.stderr}`);
  }
  return {
    dir,
    stored: path.join(dir, "stored.npz"),
    deflated: path.join(dir, "deflated.npz"),
    storedBadCrc: path.join(dir, "stored-badcrc.npz"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
