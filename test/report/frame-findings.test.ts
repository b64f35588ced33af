// Findings that point at frames (check's text output) and the quieter text formatter: info
// findings hidden unless --verbose, repeated findings grouped. JSON output is unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/check.js";
import { formatText } from "../../src/contract/format/text.js";
import type { Report } from "../../src/contract/types.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-frames-"));
  // The contract fixture tiled to 30 frames by numpy, 100 NaNs in frame 17, frame 5 all zero.
  execFileSync("python3", [
    "-c",
    String.raw`
import numpy as np, sys
z = dict(np.load(sys.argv[1], allow_pickle=True))
d = np.tile(z["diffraction"], (3, 1, 1)); d[17].reshape(-1)[:100] = np.nan; d[5] = 0
z["diffraction"] = d
for k in ["xcoords", "ycoords", "xcoords_start", "ycoords_start"]: z[k] = np.tile(z[k], 3)
z["scan_index"] = np.arange(30)
np.savez_compressed(sys.argv[2], **z)
`,
    path.resolve("test/fixtures/contract/valid.npz"),
    path.join(dir, "f17.npz"),
  ]);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const r = await capture(() => run(argv));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe("check: value findings name their frames", () => {
  it("text: the NaN finding is followed by the frames (17) and the zero-energy frame (5); info hidden", async () => {
    const r = await cli(path.join(dir, "f17.npz"));
    expect(r.code).toBe(1);
    const lines = r.out.split("\n");
    const i = lines.findIndex((l) => l.includes("data001/diffraction-finite"));
    expect(lines[i]).toContain("diffraction contains 100 non-finite values");
    expect(lines[i + 1]).toBe("          frames: diffraction: 100 non-finite values in 1 frame: 17");
    expect(lines[i + 2]).toBe("          frames: diffraction: 1 zero-energy frame (every value 0): 5");
    expect(r.out).not.toMatch(/^ {2}info /m);
    expect(r.out).toMatch(/\(\d+ info notes not shown; --verbose shows them\)/);
  });

  it("--verbose shows info findings; --json is unchanged (no frame text, same violation shape)", async () => {
    const v = await cli(path.join(dir, "f17.npz"), "--verbose");
    expect(v.out).toMatch(/^ {2}info {4}npz\/storage/m);
    const j = await cli(path.join(dir, "f17.npz"), "--json");
    const viol = (JSON.parse(j.out) as { files: { violations: Record<string, unknown>[] }[] }).files[0]!.violations.find(
      (x) => x.rule === "data001/diffraction-finite",
    )!;
    expect(viol.message).toBe("diffraction contains 100 non-finite values");
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
