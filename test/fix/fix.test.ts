// `npzguard fix` / fixFile() against numpy-written broken files (gen_fix_cases.py): for each
// remedy, OUT passes check and numpy loads from it exactly the arrays numpy computes for the
// remedy (compare.py); IN stays byte-identical; unfixable files exit 1 and leave no OUT.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/fix.js";
import { checkFile } from "../../src/contract/check.js";
import { RULE_IDS } from "../../src/contract/rules.js";
import { fixFile } from "../../src/fix/fix.js";
import { capture } from "../helpers/capture.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), "npzguard-fix-"));
execFileSync("python3", [path.join(HERE, "gen_fix_cases.py"), dir]);
interface Case {
  name: string;
  args: string[];
  exit: number;
  compressed: boolean;
  expected: boolean;
}
const CASES = JSON.parse(readFileSync(path.join(dir, "cases.json"), "utf8")) as Case[];
const p = (name: string) => path.join(dir, name);
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const HASHES = new Map(CASES.map((c) => [c.name, sha(p(`${c.name}.npz`))]));

interface Comparison {
  problems: string[];
  methods: Record<string, "stored" | "deflated">;
  metadata: {
    data_transformations?: { tool: string; operation: string; timestamp: string; parameters: { remedies: { rule: string; key: string }[] } }[];
  } | null;
}
function compare(out: string, expected: string): Comparison {
  return JSON.parse(execFileSync("python3", [path.join(HERE, "compare.py"), out, expected], { encoding: "utf8" })) as Comparison;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npzguard fix: one numpy-written broken file per remedy", () => {
  for (const c of CASES.filter((x) => x.exit === 0)) {
    it(`${c.name}: exit 0, OUT passes check, numpy loads the arrays numpy computes, IN unchanged`, async () => {
      const out = p(`${c.name}.fixed.npz`);
      const r = await capture(() => run([p(`${c.name}.npz`), "--out", out, ...c.args]));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/PASS/);
      const cmp = compare(out, p(`${c.name}.expected.npz`));
      expect(cmp.problems).toEqual([]);
      const report = await checkFile(out, { profile: "tensorflow" });
      expect(report.violations.filter((v) => v.severity === "error")).toEqual([]);
      expect(report.ok).toBe(true);
      expect(sha(p(`${c.name}.npz`))).toBe(HASHES.get(c.name));
      // compression kept per member
      for (const m of Object.values(cmp.methods)) expect(m).toBe(c.compressed ? "deflated" : "stored");
      // provenance: one npzguard record listing every remedy, each keyed on a checker rule id
      const recs = (cmp.metadata?.data_transformations ?? []).filter((t) => t.tool === "npzguard fix");
      expect(recs).toHaveLength(1);
      expect(recs[0]!.operation).toBe("canonicalize");
      expect(recs[0]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const remedies = recs[0]!.parameters.remedies.filter((x) => x.rule !== "npz/alignment");
      expect(remedies.length).toBeGreaterThan(0);
      for (const x of remedies) expect(RULE_IDS).toContain(x.rule);
    });
  }

  for (const c of CASES.filter((x) => x.exit !== 0)) {
    it(`${c.name}: exit 1, no OUT, no temporary file, IN unchanged`, async () => {
      const out = p(`${c.name}.fixed.npz`);
      const r = await capture(() => run([p(`${c.name}.npz`), "--out", out, "--json"]));
      expect(r.code).toBe(1);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect(sha(p(`${c.name}.npz`))).toBe(HASHES.get(c.name));
      const j = JSON.parse(r.stdout) as { written: boolean; reason: string; unfixed: { blocking: boolean; reason: string; rule: string }[] };
      expect(j.written).toBe(false);
      expect(j.reason).toBe("unfixable");
      const blocking = j.unfixed.filter((u) => u.blocking);
      expect(blocking.length).toBeGreaterThan(0);
      for (const u of blocking) expect(u.reason.length).toBeGreaterThan(0);
    });
  }

  it("names the reason per unfixable finding", async () => {
    const rules = async (name: string) => {
      const r = await capture(() => run([p(`${name}.npz`), "--out", p(`${name}.x.npz`), "--json"]));
      return (JSON.parse(r.stdout) as { unfixed: { blocking: boolean; rule: string }[] }).unfixed.filter((u) => u.blocking).map((u) => u.rule);
    };
    expect(await rules("nan")).toEqual(["data001/diffraction-finite"]);
    expect(await rules("negative")).toEqual(["data001/diffraction-nonnegative"]);
    expect(await rules("mismatched-m")).toContain("data001/coords-length");
    expect(await rules("missing-probe")).toEqual(["data001/required-keys"]);
    expect(await rules("diff3d-conflict")).toEqual(["data001/diffraction-key-conflict"]);
  });
});

describe("npzguard fix: options", () => {
  it("--partial writes OUT for an unfixable file and exits 1 (OUT fails its check)", async () => {
    const out = p("nan.partial.npz");
    const r = await capture(() => run([p("nan.npz"), "--out", out, "--partial"]));
    expect(r.code).toBe(1);
    expect(existsSync(out)).toBe(true);
    expect((await checkFile(out, { profile: "tensorflow" })).ok).toBe(false);
  });

  it("--dry-run prints the plan and writes nothing", async () => {
    const out = p("legacy.dry.npz");
    const r = await capture(() => run([p("legacy.npz"), "--out", out, "--dry-run", "--json"]));
    expect(r.code).toBe(0);
    expect(existsSync(out)).toBe(false);
    const j = JSON.parse(r.stdout) as { remedies: { rule: string; action: string }[]; written: boolean };
    expect(j.written).toBe(false);
    expect(j.remedies.map((x) => x.rule)).toContain("data001/legacy-layout");
  });

  it("refuses an existing OUT without --force (exit 2, OUT untouched); replaces it with --force", async () => {
    const out = p("exists.npz");
    writeFileSync(out, "keep me");
    const r = await capture(() => run([p("uint16.npz"), "--out", out]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERR_FIX_OUTPUT_EXISTS/);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    const f = await capture(() => run([p("uint16.npz"), "--out", out, "--force"]));
    expect(f.code).toBe(0);
    expect(compare(out, p("uint16.expected.npz")).problems).toEqual([]);
  });

  it("--in-place rewrites IN and keeps the original as IN.orig; --no-backup keeps none", async () => {
    const a = p("inplace.npz");
    copyFileSync(p("float64.npz"), a);
    chmodSync(a, 0o640);
    const before = sha(a);
    const r = await capture(() => run([a, "--in-place"]));
    expect(r.code).toBe(0);
    expect(statSync(a).mode & 0o777).toBe(0o640);
    expect(sha(`${a}.orig`)).toBe(before);
    expect(compare(a, p("float64.expected.npz")).problems).toEqual([]);
    const b = p("inplace2.npz");
    copyFileSync(p("float64.npz"), b);
    expect((await capture(() => run([b, "--in-place", "--no-backup"]))).code).toBe(0);
    expect(existsSync(`${b}.orig`)).toBe(false);
    expect(compare(b, p("float64.expected.npz")).problems).toEqual([]);
  });

  it("usage errors exit 2; an unreadable IN exits 3", async () => {
    expect((await capture(() => run([p("uint16.npz")]))).code).toBe(2);
    expect((await capture(() => run([p("uint16.npz"), "--out", p("u.npz"), "--profile", "nope"]))).code).toBe(2);
    expect((await capture(() => run([p("uint16.npz"), "--out", p("u.npz"), "--bogus"]))).code).toBe(2);
    const junk = p("junk.npz");
    writeFileSync(junk, "not a zip at all");
    const r = await capture(() => run([junk, "--out", p("junk.out.npz")]));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^ERR_NPZ_/);
    expect(existsSync(p("junk.out.npz"))).toBe(false);
  });
});

describe("fixFile()", () => {
  it("returns the plan (rule id -> action) and the verdict of OUT", async () => {
    const res = await fixFile(p("rank4.npz"), p("rank4.lib.npz"), { profile: "pytorch" });
    expect(res.written).toBe(true);
    expect(res.plan.remedies).toContainEqual(expect.objectContaining({ rule: "data001/diffraction-rank", key: "diffraction", action: "squeeze" }));
    expect(res.verdict?.ok).toBe(true);
    expect(res.verdict?.profile).toBe("pytorch");
  });

  it("rejects bad options before touching files", async () => {
    await expect(fixFile(p("rank4.npz"), p("z.npz"), { profile: "nope" as never })).rejects.toThrow(RangeError);
    await expect(fixFile(p("rank4.npz"), p("z.npz"), { bogus: 1 } as never)).rejects.toThrow(TypeError);
    await expect(fixFile(p("rank4.npz"), p("z.npz"), { align: 48 })).rejects.toThrow(RangeError);
    expect(existsSync(p("z.npz"))).toBe(false);
  });
});
