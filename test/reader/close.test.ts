// NpzFile#close(): idempotent; views handed out are detached (byteLength 0), never dangling;
// every method throws ERR_NPZ_CLOSED afterwards.
import { describe, expect, it } from "vitest";
import { openNpz } from "../../src/index.js";
import { expectNpzError, expectNpzErrorAsync } from "../helpers/expect.js";
import { fixture, loadExpected } from "../helpers/fixtures.js";

const expected = loadExpected();
const zeroCopyKey = expected.arrays.find(
  (e) => e.file === "npz/grid.npz" && !e.bigEndian && e.byteLength > 0 && !e.strings && e.arrayOffset! % e.componentSize === 0,
)!;

describe("NpzFile#close()", () => {
  it("detaches zero-copy views and copies alike", () => {
    const f = openNpz(fixture("npz/grid.npz"));
    const key = zeroCopyKey.key!;
    const z = f.array(key);
    expect(z.zeroCopy).toBe(true);
    const c = f.array("f8_le_n7_C", { copy: true });
    const view = z.data as ArrayBufferView;
    const copy = c.data as ArrayBufferView;
    expect(view.byteLength).toBeGreaterThan(0);
    f.close();
    expect(view.byteLength).toBe(0);
    expect(view.buffer.byteLength).toBe(0);
    expect(copy.byteLength).toBe(0);
  });

  it("is idempotent and flips closed", () => {
    const f = openNpz(fixture("npz/metadata_pickled.npz"));
    expect(f.closed).toBe(false);
    f.close();
    expect(f.closed).toBe(true);
    expect(() => f.close()).not.toThrow();
    expect(f.closed).toBe(true);
  });

  it("every method throws ERR_NPZ_CLOSED afterwards", async () => {
    const f = openNpz(fixture("npz/metadata_pickled.npz"));
    f.close();
    expectNpzError(() => f.keys(), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.members(), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.header("diffraction"), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.array("diffraction"), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.array("diffraction", { copy: true }), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.strings("_metadata"), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.metadata(), "ERR_NPZ_CLOSED");
    expectNpzError(() => f.array("no-such-key"), "ERR_NPZ_CLOSED");
    await expectNpzErrorAsync(() => f.scan("diffraction"), "ERR_NPZ_CLOSED");
  });

  it("Symbol.dispose closes", () => {
    const f = openNpz(fixture("npz/grid.npz"));
    const a = f.array(zeroCopyKey.key!);
    f[Symbol.dispose]();
    expect(f.closed).toBe(true);
    expect((a.data as ArrayBufferView).byteLength).toBe(0);
  });

  it("closing one handle leaves another handle on the same file working", () => {
    const a = openNpz(fixture("npz/grid.npz"));
    const b = openNpz(fixture("npz/grid.npz"));
    const va = a.array(zeroCopyKey.key!);
    a.close();
    const vb = b.array(zeroCopyKey.key!);
    expect((va.data as ArrayBufferView).byteLength).toBe(0);
    expect((vb.data as ArrayBufferView).byteLength).toBe(zeroCopyKey.byteLength);
    b.close();
  });

  it("a scan running when close() is called settles (resolves or rejects with a code), never hangs", async () => {
    const f = openNpz(fixture("npz/grid_compressed.npz"));
    const p = f.scan("c16_le_t2x3x5_F");
    f.close();
    const outcome = await p.then(
      () => "resolved",
      (err: unknown) => (err as { code?: string }).code ?? "uncoded",
    );
    expect(["resolved", "ERR_NPZ_CLOSED", "ERR_NPZ_ABORTED"]).toContain(outcome);
  }, 10_000);
});
