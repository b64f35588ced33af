// Findings that point at frames (check's text and JSON output) and the quieter text formatter:
// info findings hidden unless --verbose (except those that name frames), repeated findings grouped.
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/check.js";
import { formatText } from "../../src/contract/format/text.js";
import type { Report } from "../../src/contract/types.js";

// The contract fixture tiled to 30 frames by numpy, 100 NaNs in frame 17, frame 5 all zero
// (test/fixtures/report/f17.npz, written by test/fixtures/gen_inputs.py).
const F17 = fileURLToPath(new URL("../fixtures/report/f17.npz", import.meta.url));

async function cli(...argv: string[]) {
  const r = await capture(() => run(argv));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe("check: value findings name their frames", () => {
  it("text: the NaN finding is followed by its frames (17); the zero-energy frame (5) is its own finding; other info hidden", async () => {
    const r = await cli(F17);
    expect(r.code).toBe(1);
    const lines = r.out.split("\n");
    const i = lines.findIndex((l) => l.includes("data001/diffraction-finite"));
    expect(lines[i]).toContain("diffraction contains 100 non-finite values");
    expect(lines[i + 1]).toBe("          frames: diffraction: 100 non-finite values in 1 frame: 17");
    // Info findings that point at frames show without --verbose; the other info notes are counted.
    expect(lines).toContain("  info    data001/diffraction-nonzero [diffraction]: diffraction has 1 zero-energy frame (every value 0): 5");
    expect(lines.filter((l) => /^ {2}info /.test(l))).toHaveLength(1);
    expect(r.out).toMatch(/\(\d+ info notes not shown; --verbose shows them\)/);
  });

  it("--verbose shows info findings; --json carries frames (first frames, per-frame counts, total)", async () => {
    const v = await cli(F17, "--verbose");
    expect(v.out).toMatch(/^ {2}info {4}npz\/storage/m);
    const j = await cli(F17, "--json");
    const viols = (JSON.parse(j.out) as { files: { violations: Record<string, unknown>[] }[] }).files[0]!.violations;
    const viol = viols.find((x) => x.rule === "data001/diffraction-finite")!;
    expect(viol.message).toBe("diffraction contains 100 non-finite values");
    expect(viol.frames).toEqual({ first: [17], counts: [100], total: 1, values: 100 });
    const zero = viols.find((x) => x.rule === "data001/diffraction-nonzero")!;
    expect(zero.severity).toBe("info");
    expect(zero.frames).toEqual({ first: [5], counts: [64 * 64], total: 1, values: 64 * 64 });
    expect(j.out).not.toContain("frames:");
  });
});

describe("formatText grouping", () => {
  it("repeated findings (same rule, severity and message) are one line listing their keys", () => {
    const v = (key: string) => ({ rule: "npz/byte-order", severity: "warning" as const, key, message: "stored big-endian", finding: null });
    const r = {
      path: "x.npz",
      ok: true,
      profile: "study",
      mode: "full",
      referenceVerdict: { status: "pass" },
      violations: [v("a"), v("b"), v("c")],
      notEvaluated: [],
      members: [],
      stats: {},
      digest: { size: 0, mtimeMs: 0, inode: 0, members: [] },
      durationMs: 0,
    } as unknown as Report;
    const lines = formatText([r])
      .split("\n")
      .filter((l) => l.includes("npz/byte-order"));
    expect(lines).toEqual(["  warning npz/byte-order [a, b, c]: stored big-endian"]);
  });
});
