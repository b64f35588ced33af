// Every hand-broken file of test/fixtures/corrupt/corrupt.json must give its coded error at the
// stage the checklist says (npy-npz-format.md §10): no crash, no hang (each case has a timeout).
import { afterAll, describe, expect, it } from "vitest";
import { openNpz, loadNpy, isNpzError, type NpzFile } from "../../src/index.js";
import type { ErrorCode } from "../../src/errors.js";
import { caught, expectNpzError } from "../helpers/expect.js";
import { fixture, keyOf, loadCorrupt, type CorruptCase } from "../helpers/fixtures.js";
import { npy, tempDir, zip } from "../helpers/npz-writer.js";

const cases = loadCorrupt();
const TIMEOUT = 10_000;

function codeOf(err: unknown): string {
  return isNpzError(err) ? err.code : `${(err as Error)?.name}: ${(err as Error)?.message}`;
}

/** Opens the case; returns the file, or the open error when "open" is an allowed stage. */
function openCase(c: CorruptCase): NpzFile | undefined {
  let f: NpzFile;
  try {
    f = openNpz(fixture(c.file), c.options);
  } catch (err) {
    expect(c.at, `${c.file}: unexpected open error ${codeOf(err)}`).toContain("open");
    expect(c.codes, `${c.file}: open error ${codeOf(err)}`).toContain(codeOf(err));
    return undefined;
  }
  return f;
}

/**
 * scan() either rejects with the code, or (CRC only) resolves reporting the mismatch: ScanResult
 * carries crcChecked/crcOk so a caller can collect CRC failures without exceptions.
 */
async function expectScanRefusal(f: NpzFile, key: string, codes: ErrorCode[]): Promise<void> {
  let result: Awaited<ReturnType<NpzFile["scan"]>>;
  try {
    result = await f.scan(key);
  } catch (err) {
    expect(codes, `scan: ${codeOf(err)}`).toContain(codeOf(err));
    return;
  }
  expect(codes, "scan resolved; only a CRC mismatch may be reported in the result").toContain("ERR_NPZ_CRC_MISMATCH");
  expect(result.crcChecked).toBe(true);
  expect(result.crcOk).toBe(false);
}

function memberKey(c: CorruptCase): string {
  return c.member ?? keyOf({ file: c.file, key: null });
}

describe("corrupt.json", () => {
  it("covers the checklist rows 1-29 except the non-error row 10", () => {
    const rows = new Set(cases.map((c) => c.row));
    for (let r = 1; r <= 29; r++) if (r !== 10) expect(rows, `row ${r}`).toContain(r);
  });
});

describe("refusals", () => {
  it.each(cases.filter((c) => c.severity === "error" && c.codes.length > 0).map((c) => [c.file, c] as const))(
    "%s",
    async (_name, c) => {
      const f = openCase(c);
      if (!f) return;
      try {
        const key = memberKey(c);
        const m = f.members().find((x) => x.key === key);
        if (m?.error) {
          // Member-level problem recorded at open: listing works, access throws it.
          expect(c.at, `${c.file}: detected at open (${m.error.code})`).toContain("open");
          expect(c.codes).toContain(m.error.code);
          expectNpzError(() => f.header(key), c.codes);
          expectNpzError(() => f.array(key, { copy: true }), c.codes);
          return;
        }
        const later = c.at.filter((s) => s !== "open");
        expect(later.length, `${c.file}: expected an error at open, the member opened (${m ? "no error" : "no such member"})`).toBeGreaterThan(0);
        expect(m, `${c.file}: member ${key} missing; keys ${f.keys().join(",")}`).toBeDefined();
        for (const stage of later) {
          if (stage === "array") expectNpzError(() => f.array(key, { copy: true }), c.codes);
          else if (stage === "strings") {
            expectNpzError(() => f.strings(key), c.codes);
            if (key === "_metadata") expectNpzError(() => f.metadata(), c.codes);
          } else if (stage === "scan") await expectScanRefusal(f, key, c.codes);
        }
      } finally {
        f.close();
      }
    },
    TIMEOUT,
  );

  it.each(cases.filter((c) => c.severity === "warning").map((c) => [c.file, c] as const))(
    "%s opens with trailing bytes reported",
    (_name, c) => {
      const f = openNpz(fixture(c.file), c.options);
      try {
        const key = memberKey(c);
        const h = f.header(key);
        expect(h.trailingBytes).toBe(c.expect!.trailingBytes);
        const a = f.array(key, { copy: true });
        expect((a.data as Float64Array).length).toBe(h.count);
      } finally {
        f.close();
      }
    },
    TIMEOUT,
  );

  it.each(cases.filter((c) => c.codes.length === 0).map((c) => [c.file, c] as const))(
    "%s is a value finding, not an error",
    async (_name, c) => {
      const f = openNpz(fixture(c.file));
      try {
        const r = await f.scan(memberKey(c));
        expect(r.stats?.badBool).toBe(c.expect!.badBool);
      } finally {
        f.close();
      }
    },
    TIMEOUT,
  );

  it.each(cases.filter((c) => c.file.endsWith(".npy") && c.at.includes("open") && c.severity === "error").map((c) => [c.file, c] as const))(
    "loadNpy(%s) throws the same code",
    (_name, c) => {
      const err = caught(() => loadNpy(fixture(c.file), c.options));
      expect(isNpzError(err), `${c.file}: ${codeOf(err)}`).toBe(true);
      expect(c.codes).toContain(codeOf(err));
    },
    TIMEOUT,
  );
});

describe("refusals built on the fly", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const body = npy(Float64Array.from([1, 2, 3]), { descr: "<f8", shape: [3] });

  it("ERR_NPZ_LIMIT when entries exceed maxEntries, fine at the default cap", () => {
    const members = Array.from({ length: 12 }, (_, i) => ({ name: `m${i}.npy`, data: body }));
    const p = tmp.write("many.npz", zip(members).bytes);
    expectNpzError(() => openNpz(p, { maxEntries: 11 }), "ERR_NPZ_LIMIT");
    const f = openNpz(p);
    expect(f.keys().length).toBe(12);
    f.close();
  });

  it("a data descriptor whose sizes agree with the CD is accepted", () => {
    const p = tmp.write("dd-ok.npz", zip([{ name: "x.npy", data: body, dataDescriptor: true }]).bytes);
    const f = openNpz(p);
    expect(f.header("x").shape).toEqual([3]);
    f.close();
  });

  it("ERR_NPZ_NOT_ZIP / ERR_NPZ_OPEN for empty and missing files", () => {
    expectNpzError(() => openNpz(tmp.write("empty.npz", new Uint8Array(0))), ["ERR_NPZ_NOT_ZIP", "ERR_NPZ_CORRUPT"]);
    expectNpzError(() => openNpz(`${tmp.dir}/does-not-exist.npz`), "ERR_NPZ_OPEN");
  });

  it("argument misuse is a TypeError before native code runs", () => {
    expect(() => openNpz(42 as unknown as string)).toThrow(TypeError);
    expect(() => openNpz(fixture("npz/grid.npz"), { maxEntrys: 3 } as unknown as { maxEntries: number })).toThrow(TypeError);
  });

  it("a header exactly at the custom cap is accepted, one byte over is refused", () => {
    const p = tmp.write("cap.npy", body);
    const hl = 128 - 10;
    expect(openNpz(p, { maxHeaderSize: hl }).keys()).toEqual(["cap"]);
    const codes: ErrorCode[] = ["ERR_NPY_HEADER_TOO_LARGE"];
    const err = caught(() => {
      const f = openNpz(p, { maxHeaderSize: hl - 1 });
      try {
        f.header("cap");
      } finally {
        f.close();
      }
    });
    expect(codes).toContain(codeOf(err));
  });
});
