// `npzguard fix` on a `_metadata` written the way PtychoPINN's MetadataManager once did it,
// np.array(dict, dtype=object): the whitelisting walker decodes the dict (never executing the
// pickle) and OUT holds it as a 0-d <U JSON string, exactly Python's json.dumps(d, indent=2)
// with the npzguard record appended to data_transformations (gen_metadata_cases.py compares
// with python3). Pickles holding anything but plain values are refused: fix keeps the member as
// it is and the plan says why.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/fix.js";
import { checkFile } from "../../src/contract/check.js";
import { NpzError } from "../../src/errors.js";
import { pickledDict } from "../../src/fix/metadata-text.js";
import { openNpz } from "../../src/npz.js";
import { pyJsonDump } from "../../src/python/json.js";
import { capture } from "../helpers/capture.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const GEN = path.join(HERE, "gen_metadata_cases.py");
const dir = mkdtempSync(path.join(os.tmpdir(), "npzguard-fixmeta-"));
execFileSync("python3", [GEN, "gen", dir]);
interface Case {
  name: string;
  ok: boolean;
  refusal: string | null;
  compressed: boolean;
}
const CASES = JSON.parse(readFileSync(path.join(dir, "cases.json"), "utf8")) as Case[];
const p = (name: string) => path.join(dir, name);
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const py = <T>(...args: string[]) => JSON.parse(execFileSync("python3", [GEN, ...args], { encoding: "utf8" })) as T;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Comparison {
  text_equal: boolean;
  parsed_equal: boolean;
  problems: string[];
  record: { tool: string; operation: string; timestamp: string; parameters: { remedies: { rule: string; key: string; action: string }[] } };
  text: string | null;
  want: string | null;
}

describe("fix: pickled-dict _metadata -> JSON string form", () => {
  it("covers what the brief asks", () => {
    expect(CASES.filter((c) => c.ok).length).toBeGreaterThanOrEqual(7);
    expect(CASES.filter((c) => !c.ok).length).toBeGreaterThanOrEqual(6);
  });

  for (const c of CASES.filter((x) => x.ok)) {
    it(`${c.name}: pickledValue() dumps to exactly python's json.dumps(d, indent=2)`, () => {
      const f = openNpz(p(`${c.name}.npz`));
      try {
        const d = pickledDict(f.pickledValue("_metadata"));
        expect(d).not.toBeNull();
        expect(pyJsonDump(d!, 2)).toBe(execFileSync("python3", [GEN, "dumps", p(`${c.name}.npz`)], { encoding: "utf8" }));
      } finally {
        f.close();
      }
    });

    it(`${c.name}: fix exits 0, OUT's _metadata is json.dumps(d + record), OUT passes check, IN unchanged`, async () => {
      const inp = p(`${c.name}.npz`);
      const before = sha(inp);
      const out = p(`${c.name}.fixed.npz`);
      const r = await capture(() => run([inp, "--out", out]));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/npz\/pickle-refused\s+_metadata: metadata-to-json/);
      const cmp = py<Comparison>("compare", inp, out);
      expect(cmp.problems).toEqual([]);
      expect({ text: cmp.text, want: cmp.want }).toEqual({ text: null, want: null });
      expect(cmp.text_equal).toBe(true);
      expect(cmp.record.tool).toBe("npzguard fix");
      expect(cmp.record.operation).toBe("canonicalize");
      expect(cmp.record.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(cmp.record.parameters.remedies).toContainEqual({
        rule: "npz/pickle-refused",
        key: "_metadata",
        action: "metadata-to-json",
        detail: expect.any(String) as unknown as string,
      });
      const report = await checkFile(out, { profile: "tensorflow" });
      expect(report.violations.filter((v) => v.severity === "error")).toEqual([]);
      expect(report.ok).toBe(true);
      // numpy loads it without pickles, and MetadataManager's json.loads(str(arr.item())) reads it
      const f = openNpz(out);
      try {
        const h = f.members().find((m) => m.key === "_metadata")!.header!;
        expect([h.descr.slice(0, 2), h.shape]).toEqual(["<U", []]);
      } finally {
        f.close();
      }
      expect(sha(inp)).toBe(before);
    });
  }

  for (const c of CASES.filter((x) => !x.ok)) {
    it(`${c.name}: refused cleanly (ERR_NPY_PICKLE_REFUSED), exit 1, no OUT, the plan says why; --partial keeps _metadata byte for byte`, async () => {
      const inp = p(`${c.name}.npz`);
      const before = sha(inp);
      const f = openNpz(inp);
      let err: unknown;
      try {
        f.pickledValue("_metadata");
      } catch (e) {
        err = e;
      } finally {
        f.close();
      }
      expect(err).toBeInstanceOf(NpzError);
      expect((err as NpzError).code).toBe("ERR_NPY_PICKLE_REFUSED");
      expect((err as NpzError).message).toContain(c.refusal);

      const out = p(`${c.name}.fixed.npz`);
      const r = await capture(() => run([inp, "--out", out, "--json"]));
      expect(r.code).toBe(1);
      expect(existsSync(out)).toBe(false);
      const j = JSON.parse(r.stdout) as {
        written: boolean;
        metadataNote?: string;
        unfixed: { rule: string; key: string; blocking: boolean; reason: string }[];
      };
      expect(j.written).toBe(false);
      const u = j.unfixed.filter((x) => x.blocking);
      expect(u.map((x) => [x.rule, x.key])).toEqual([["npz/pickle-refused", "_metadata"]]);
      expect(u[0]!.reason).toContain(c.refusal);
      expect(j.metadataNote).toContain(c.refusal);

      const partial = p(`${c.name}.partial.npz`);
      const rp = await capture(() => run([inp, "--out", partial, "--partial"]));
      expect(rp.code).toBe(1);
      expect(rp.stdout).toContain(c.refusal);
      expect(py<boolean>("same-member", inp, partial)).toBe(true);
      expect(sha(inp)).toBe(before);
    });
  }

  it("pickledValue() of a member that is not |O is ERR_NPY_UNSUPPORTED_DTYPE", () => {
    const f = openNpz(p("manager.npz"));
    try {
      expect(() => f.pickledValue("xcoords")).toThrow(expect.objectContaining({ code: "ERR_NPY_UNSUPPORTED_DTYPE" }) as unknown as Error);
    } finally {
      f.close();
    }
  });
});
