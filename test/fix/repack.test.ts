// `npzguard repack` / repackFile() against numpy-written archives: numpy loads identical arrays,
// every numeric member of a STORED result maps zero-copy (array(key, {copy: false})), deflated
// members stay deflated unless --stored, and the padding is well-formed for zipfile.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/repack.js";
import { run as inspect } from "../../src/cli/inspect.js";
import { repackFile } from "../../src/fix/repack.js";
import { openNpz } from "../../src/npz.js";
import { capture } from "../helpers/capture.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "npzguard-repack-"));
const p = (n: string) => path.join(dir, n);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Inputs written by numpy (test/fixtures/fix/repack/, test/fixtures/gen_inputs.py), copied here
// because the outputs are written beside them.
const FX = fileURLToPath(new URL("../fixtures/fix/repack/", import.meta.url));
for (const n of ["stored.npz", "deflated.npz"]) copyFileSync(path.join(FX, n), p(n));

const NUMERIC = ["diffraction", "probeGuess", "c16", "f8", "i2", "u1", "b1", "fort", "i8", "scalar"];

/** numpy: every key of A equals B's (dtype, shape, values), and the zip methods of B. */
function numpySame(a: string, b: string): { same: boolean; methods: number[]; testzip: string | null } {
  const out = execFileSync(
    "python3",
    [
      "-c",
      `
import sys, json, zipfile, numpy as np
a = np.load(sys.argv[1], allow_pickle=True); b = np.load(sys.argv[2], allow_pickle=True)
same = sorted(a.files) == sorted(b.files) and all(
    a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and (np.array_equal(a[k], b[k]) if a[k].dtype != object else a[k].item() == b[k].item())
    for k in a.files)
z = zipfile.ZipFile(sys.argv[2])
print(json.dumps({"same": bool(same), "methods": [i.compress_type for i in z.infolist()], "testzip": z.testzip()}))
`,
      a,
      b,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(out) as { same: boolean; methods: number[]; testzip: string | null };
}

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

describe("npzguard repack", () => {
  it("STORED archive: numpy loads identical arrays and every numeric member maps zero-copy", async () => {
    const before = sha(p("stored.npz"));
    {
      const src = openNpz(p("stored.npz"));
      // precondition: numpy's own layout leaves most members unmappable
      expect(NUMERIC.filter((k) => (src.header(k).arrayOffset ?? 0) % 64 !== 0).length).toBeGreaterThan(3);
      src.close();
    }
    const r = await capture(() => run([p("stored.npz"), "--out", p("stored.r.npz")]));
    expect(r.code).toBe(0);
    expect(sha(p("stored.npz"))).toBe(before);
    const cmp = numpySame(p("stored.npz"), p("stored.r.npz"));
    expect(cmp).toEqual({ same: true, methods: cmp.methods.map(() => 0), testzip: null });
    const npz = openNpz(p("stored.r.npz"));
    try {
      for (const k of NUMERIC) {
        expect(npz.header(k).arrayOffset! % 64).toBe(0);
        const a = npz.array(k, { copy: false });
        expect(a.zeroCopy).toBe(true);
      }
      // big-endian data is never zero-copy, but its offset is aligned too
      expect(npz.header("be").arrayOffset! % 64).toBe(0);
    } finally {
      npz.close();
    }
  });

  it("deflated archive stays deflated (raw copy, same CRCs); --stored makes it mappable", async () => {
    expect((await capture(() => run([p("deflated.npz"), "--out", p("deflated.r.npz")]))).code).toBe(0);
    const keep = numpySame(p("deflated.npz"), p("deflated.r.npz"));
    expect(keep.same).toBe(true);
    expect(keep.methods.every((m) => m === 8)).toBe(true);
    expect(keep.testzip).toBeNull();

    expect((await capture(() => run([p("deflated.npz"), "--out", p("deflated.s.npz"), "--stored"]))).code).toBe(0);
    const st = numpySame(p("deflated.npz"), p("deflated.s.npz"));
    expect(st.same).toBe(true);
    expect(st.methods.every((m) => m === 0)).toBe(true);
    const npz = openNpz(p("deflated.s.npz"));
    try {
      for (const k of NUMERIC) expect(npz.array(k, { copy: false }).zeroCopy).toBe(true);
    } finally {
      npz.close();
    }
  });

  it("--deflate LEVEL re-encodes every member; --align 4096 aligns to pages", async () => {
    expect((await capture(() => run([p("stored.npz"), "--out", p("stored.d.npz"), "--deflate", "1"]))).code).toBe(0);
    const d = numpySame(p("stored.npz"), p("stored.d.npz"));
    expect(d.same).toBe(true);
    expect(d.methods.every((m) => m === 8)).toBe(true);
    const res = await repackFile(p("stored.npz"), p("stored.4k.npz"), { align: 4096 });
    expect(res.verified).toBe(true);
    for (const m of res.members.filter((x) => x.arrayOffset !== null)) expect(m.arrayOffset! % 4096).toBe(0);
    expect(numpySame(p("stored.npz"), p("stored.4k.npz")).same).toBe(true);
  });

  it("inspect shows the data offset and its alignment", async () => {
    const r = await capture(() => inspect([p("stored.r.npz")]));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/data offset \(align\)/);
    const row = r.stdout.split("\n").find((l) => l.trim().startsWith("diffraction"))!;
    expect(row).toMatch(/ \d+ \((64|128|256|512|1024|2048|4096)\) /);
  });

  it("a CRC mismatch in IN exits 3 and writes nothing; an existing OUT needs --force", async () => {
    const bad = p("bad.npz");
    const b = readFileSync(p("stored.npz"));
    const h = openNpz(p("stored.npz"));
    const off = h.header("diffraction").arrayOffset!;
    h.close();
    b[off + 10] = b[off + 10]! ^ 0xff;
    writeFileSync(bad, b);
    const r = await capture(() => run([bad, "--out", p("bad.r.npz")]));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ERR_NPZ_CRC_MISMATCH/);
    expect(existsSync(p("bad.r.npz"))).toBe(false);

    writeFileSync(p("taken.npz"), "x");
    const t = await capture(() => run([p("stored.npz"), "--out", p("taken.npz")]));
    expect(t.code).toBe(2);
    expect(readFileSync(p("taken.npz"), "utf8")).toBe("x");
    expect((await capture(() => run([p("stored.npz"), "--out", p("o.npz"), "--stored", "--deflate", "3"]))).code).toBe(2);
    expect((await capture(() => run([p("stored.npz"), "--out", p("o.npz"), "--align", "48"]))).code).toBe(2);
  });
});

describe("interrupting", () => {
  it("an aborted repackFile throws ERR_NPZ_ABORTED and leaves neither OUT nor a temporary file", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(repackFile(p("stored.npz"), p("aborted.npz"), { signal: ac.signal })).rejects.toMatchObject({ code: "ERR_NPZ_ABORTED" });
    expect(existsSync(p("aborted.npz"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
