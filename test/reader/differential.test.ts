// Differential test: wherever JSZip + npyjs can read a member of the numpy-written corpus, our
// reader's data equals theirs. npyjs quirks (toolchain.md §4): b1 comes back as boolean[], f2 is
// converted unless convertFloat16 is false, big-endian, |S and |O throw, Fortran data is raw
// column-major (as ours is), and dtype has no byte-order char. <U data is decoded by npyjs into
// one JS string sliced every n UTF-16 units with every NUL removed, so arrays holding astral-plane
// characters (U+10000 and up) come back misframed: those are compared against numpy only
// (test/reader/fixtures.test.ts), and counted here as skipped.
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import JSZip from "jszip";
import { parse } from "npyjs";
import { openNpz, type NpzFile } from "../../src/index.js";
import { bytesOf } from "../helpers/npz-writer.js";
import { fixture } from "../helpers/fixtures.js";

interface Theirs {
  data: unknown;
  shape: number[];
  fortranOrder: boolean;
}

function theirParse(bytes: Uint8Array): Theirs | undefined {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    return parse(ab, { convertFloat16: false });
  } catch {
    return undefined; // a dtype npyjs does not read
  }
}

/** npyjs misframes <U arrays containing astral-plane characters (see the header comment). */
function npyjsCannotFrame(ours: unknown): boolean {
  return Array.isArray(ours) && ours.some((x) => typeof x === "string" && /[\u{10000}-\u{10FFFF}]/u.test(x));
}

function compare(ours: unknown, theirs: unknown): void {
  if (Array.isArray(theirs)) {
    if (typeof theirs[0] === "boolean" || (theirs.length === 0 && ArrayBuffer.isView(ours))) {
      expect(Array.from(ours as Uint8Array)).toEqual(theirs.map((b) => (b ? 1 : 0)));
    } else {
      expect(ours).toEqual(theirs.map((s) => String(s).replace(/\0+$/, "")));
    }
    return;
  }
  const t = theirs as ArrayBufferView;
  const o = ours as ArrayBufferView;
  expect(o.constructor.name).toBe(t.constructor.name);
  expect(Buffer.from(bytesOf(o)).equals(Buffer.from(bytesOf(t)))).toBe(true);
}

const open: NpzFile[] = [];
afterAll(() => {
  for (const f of open) f.close();
});

const npzFiles = readdirSync(fixture("npz")).filter((n) => n.endsWith(".npz"));
const npyFiles = readdirSync(fixture("npy")).filter((n) => n.endsWith(".npy"));

describe("differential: npyjs + jszip vs openNpz", () => {
  let compared = 0;
  let skippedAstral = 0;

  it.each(npzFiles)("npz/%s", async (name) => {
    const path = fixture(`npz/${name}`);
    const zip = await JSZip.loadAsync(readFileSync(path));
    const ours = openNpz(path);
    open.push(ours);
    const theirNames = Object.keys(zip.files).filter((n) => !zip.files[n]!.dir);
    expect(
      ours
        .members()
        .map((m) => m.name)
        .sort(),
    ).toEqual([...theirNames].sort());
    for (const n of theirNames) {
      const bytes = new Uint8Array(await zip.file(n)!.async("uint8array"));
      const t = theirParse(bytes);
      if (!t) continue;
      const key = n.replace(/\.npy$/, "");
      const a = ours.array(key, { copy: true });
      if (npyjsCannotFrame(a.data)) {
        skippedAstral++;
        continue;
      }
      expect(a.shape, n).toEqual(t.shape);
      expect(a.fortranOrder, n).toBe(t.fortranOrder);
      compare(a.data, t.data);
      compared++;
    }
  });

  it.each(npyFiles)("npy/%s", (name) => {
    const path = fixture(`npy/${name}`);
    const t = theirParse(new Uint8Array(readFileSync(path)));
    const ours = openNpz(path);
    open.push(ours);
    const key = name.replace(/\.npy$/, "");
    if (!t) {
      // npyjs refuses it: ours must still read it (big-endian, |S) — covered against numpy elsewhere.
      expect(() => ours.array(key)).not.toThrow();
      return;
    }
    const a = ours.array(key);
    if (npyjsCannotFrame(a.data)) {
      skippedAstral++;
      return;
    }
    expect(a.shape).toEqual(t.shape);
    compare(a.data, t.data);
    compared++;
  });

  it("compared a substantial part of the corpus", () => {
    expect(compared).toBeGreaterThan(200);
    expect(skippedAstral).toBeLessThan(compared / 10);
  });
});
