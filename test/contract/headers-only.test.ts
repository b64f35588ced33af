// `check --headers-only` does not read array data, so it cannot know the reference gate's
// verdict (that gate loads every array, CRC-checked): it says "not evaluated" and lists the CRC
// rule and the value rules under not evaluated. Tested on a file whose data has one flipped byte
// (bad CRC-32), which numpy itself refuses to load.
import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/check.js";
import { VALUE_RULE_IDS } from "../../src/contract/rules.js";
import { capture } from "../helpers/capture.js";
import { fx } from "./helpers.js";

// The contract fixture crc_flip.npz (test/fixtures/contract/gen_contract.py) has one byte of the
// STORED xcoords data flipped; numpy itself must refuse to load that member (zipfile: "Bad CRC-32").
const CHECK = `
import sys, zipfile, numpy as np
with np.load(sys.argv[1], allow_pickle=True) as z:
    bad = []
    for k in z.files:
        try:
            z[k]
        except zipfile.BadZipFile as e:
            bad.append(k)
            print("numpy refused:", e)
    if not bad:
        sys.exit("numpy loaded every member")
`;

const file = fx("crc_flip.npz");
beforeAll(() => {
  const out = execFileSync("python3", ["-c", CHECK, file], { encoding: "utf8" });
  expect(out).toMatch(/numpy refused: Bad CRC-32/);
});

const cli = (...argv: string[]) => capture(() => run(argv));

interface JsonFile {
  ok: boolean;
  referenceVerdict: { status: string; error?: string; reason?: string };
  notEvaluated: string[];
  violations: { rule: string; severity: string }[];
}

describe("npzguard check --headers-only (reference verdict)", () => {
  it("says the reference gate was not evaluated, with CRC and values listed as not evaluated (text)", async () => {
    const r = await cli(file, "--headers-only");
    expect(r.code).toBe(0); // the evaluated (header) rules found no error
    expect(r.stdout).not.toMatch(/reference gate: pass/);
    expect(r.stdout).toMatch(/^ {2}reference gate: not evaluated \(headers only: member CRC-32s and array values were not read\)$/m);
    const ne = /^ {2}not evaluated: (.*)$/m.exec(r.stdout)?.[1]?.split(", ") ?? [];
    expect(ne).toEqual(["npz/integrity", ...VALUE_RULE_IDS]);
  });

  it("reports referenceVerdict.status not-evaluated in JSON", async () => {
    const r = await cli(file, "--headers-only", "--json");
    expect(r.code).toBe(0);
    const f = (JSON.parse(r.stdout) as { files: JsonFile[] }).files[0] as JsonFile;
    expect(f.referenceVerdict.status).toBe("not-evaluated");
    expect(f.referenceVerdict.error).toBeUndefined();
    expect(f.notEvaluated).toContain("npz/integrity");
    expect(f.notEvaluated).toContain("data001/diffraction-finite");
  });

  it("says so in JUnit and GitHub output too", async () => {
    const j = await cli(file, "--headers-only", "--format", "junit");
    expect(j.stdout).toContain('<property name="referenceVerdict" value="not-evaluated"/>');
    expect(j.stdout).toMatch(/<testcase name="npz\/integrity"[^>]*>\s*<skipped /);
    const g = await cli(file, "--headers-only", "--format", "github");
    expect(g.stdout).toMatch(/^::notice file=.*crc_flip\.npz,title=reference gate::reference gate not evaluated .*npz\/integrity/m);
  });

  it("still exits 1 on errors found by the header rules", async () => {
    const r = await cli(fx("missing_keys.npz"), "--headers-only", "--json");
    expect(r.code).toBe(1);
    const f = (JSON.parse(r.stdout) as { files: JsonFile[] }).files[0] as JsonFile;
    expect(f.referenceVerdict.status).toBe("not-evaluated");
    expect(f.violations.some((v) => v.rule === "data001/required-keys" && v.severity === "error")).toBe(true);
  });

  it("full check fails the file on its CRC, reference gate included", async () => {
    const r = await cli(file, "--json");
    expect(r.code).toBe(1);
    const f = (JSON.parse(r.stdout) as { files: JsonFile[] }).files[0] as JsonFile;
    expect(f.ok).toBe(false);
    expect(f.referenceVerdict.status).toBe("fail");
    expect(f.violations.some((v) => v.rule === "npz/integrity" && v.severity === "error")).toBe(true);
    const t = await cli(file);
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/reference gate: fail \(/);
  });
});
