// `npzguard inspect`: table / --json output, exit codes, one stderr line per failure.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { capture, type CliResult } from "../helpers/capture.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { run } from "../../src/cli/inspect.js";

const GEN = String.raw`
import sys, os, io, zipfile
import numpy as np
d = sys.argv[1]
j = lambda n: os.path.join(d, n)
np.savez(j("ok.npz"), diffraction=np.zeros((4, 8, 8), dtype="<f4"), xcoords=np.arange(4.0))
np.savez_compressed(j("comp.npz"), probeGuess=np.ones((8, 8), dtype="<c8"), fort=np.asfortranarray(np.zeros((2, 3))))
np.save(j("one.npy"), np.arange(5, dtype="<i8"))
good = io.BytesIO(); np.save(good, np.arange(3, dtype="<i4"))
with zipfile.ZipFile(j("badmember.npz"), "w") as z:
  z.writestr("good.npy", good.getvalue())
  z.writestr("bad.npy", b"\x93NUMPY\x09\x00\x10\x00" + b"{}".ljust(16))
open(j("junk.npz"), "wb").write(b"not a zip file" * 10)
`;

let dir = "";
const f = (name: string) => path.join(dir, name);

async function inspect(...argv: string[]): Promise<CliResult> {
  return capture(() => run(argv));
}

interface JsonOut {
  files: {
    path: string;
    format?: string;
    members?: {
      key: string;
      descr: string | null;
      shape: number[] | null;
      fortranOrder: boolean | null;
      compression: string;
      byteLength: number | null;
      error?: { code: string };
    }[];
    error?: { code: string; message: string };
  }[];
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-inspect-"));
  const script = path.join(dir, "gen.py");
  writeFileSync(script, GEN);
  execFileSync("python3", [script, dir]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("npzguard inspect", () => {
  it("--json lists every member of npz and npy files, exit 0", async () => {
    const r = await inspect(f("ok.npz"), f("comp.npz"), f("one.npy"), "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files.map((x) => x.format)).toEqual(["npz", "npz", "npy"]);
    expect(out.files[0]!.path).toBe(f("ok.npz"));
    expect(out.files[0]!.members![0]).toMatchObject({
      key: "diffraction",
      descr: "<f4",
      shape: [4, 8, 8],
      fortranOrder: false,
      compression: "stored",
      byteLength: 1024,
    });
    expect(out.files[1]!.members!.map((m) => [m.key, m.compression, m.fortranOrder])).toEqual([
      ["probeGuess", "deflated", false],
      ["fort", "deflated", true],
    ]);
    expect(out.files[2]!.members).toEqual([expect.objectContaining({ key: "one", descr: "<i8", shape: [5], byteLength: 40 })]);
  });

  it("prints a table per file by default", async () => {
    const r = await inspect(f("ok.npz"), f("one.npy"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("diffraction");
    expect(r.stdout).toContain("4x8x8");
    expect(r.stdout).toContain("xcoords");
    expect(r.stdout).toContain("one");
  });

  it("exit 3 with an error object and one stderr line for an unreadable file", async () => {
    const r = await inspect(f("ok.npz"), f("junk.npz"), f("missing.npz"), "--json");
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files[0]!.members!.length).toBe(2);
    expect(out.files[1]!.members).toBeUndefined();
    expect(["ERR_NPZ_NOT_ZIP", "ERR_NPZ_CORRUPT", "ERR_NPY_BAD_MAGIC"]).toContain(out.files[1]!.error!.code);
    expect(out.files[2]!.error!.code).toBe("ERR_NPZ_OPEN");
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(2);
    expect(lines[1]!.startsWith("ERR_NPZ_OPEN: ")).toBe(true);
    expect(lines[1]!.endsWith(`(${f("missing.npz")})`)).toBe(true);
  });

  it("a member-level error counts as unreadable (exit 3)", async () => {
    const r = await inspect(f("badmember.npz"), "--json");
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as JsonOut;
    const [good, bad] = out.files[0]!.members!;
    expect(good!.error).toBeUndefined();
    expect(bad!.error!.code).toBe("ERR_NPY_BAD_VERSION");
    expect(r.stderr.trim()).toMatch(/^ERR_NPY_BAD_VERSION: .*\(.*badmember\.npz:bad\)$/);
  });

  it("usage errors exit 2", async () => {
    expect((await inspect()).code).toBe(2);
    expect((await inspect(f("ok.npz"), "--bogus")).code).toBe(2);
  });
});
