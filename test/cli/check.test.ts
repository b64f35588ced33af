import { afterEach, describe, expect, it, vi } from "vitest";
import { capture } from "../helpers/capture.js";
import { run } from "../../src/cli/check.js";
import { fx } from "../contract/helpers.js";

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await capture(() => run(argv));
  return { code: r.code, out: r.stdout, err: r.stderr };
}

afterEach(() => vi.restoreAllMocks());

describe("npzguard check (exit codes)", () => {
  it("0 when no error finding (warnings allowed)", async () => {
    expect((await cli(fx("valid.npz"))).code).toBe(0);
    expect((await cli(fx("valid_min.npz"))).code).toBe(0); // coords-start is a warning in study
  });

  it("1 on an error finding; --strict turns warnings into errors", async () => {
    const r = await cli(fx("missing_keys.npz"));
    expect(r.code).toBe(1);
    expect(r.out).toContain("data001/required-keys");
    expect((await cli(fx("valid_min.npz"), "--profile", "tensorflow")).code).toBe(1);
    expect((await cli(fx("valid_min.npz"), "--strict")).code).toBe(1);
  });

  it("2 on usage errors", async () => {
    expect((await cli("--bogus", fx("valid.npz"))).code).toBe(2);
    expect((await cli()).code).toBe(2);
    expect((await cli(fx("valid.npz"), "--profile", "keras")).code).toBe(2);
    expect((await cli(fx("valid.npz"), "--format", "xml")).code).toBe(2);
    expect((await cli(fx("valid.npz"), "--gridsize", "two")).code).toBe(2);
  });

  it("3 when a file is unreadable, with its ERR_ line on stderr", async () => {
    const r = await cli(fx("valid.npz"), fx("empty.npz"));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^ERR_NPZ_[A-Z_]+: .*\(.*empty\.npz\)$/m);
    expect(r.err).not.toContain("    at ");
  });

  it("passes the context options through (--gridsize/--neighbor-count/--phase-c/--headers-only)", async () => {
    expect((await cli(fx("valid.npz"), "--gridsize", "2", "--neighbor-count", "7", "--view", "dense")).code).toBe(0);
    expect((await cli(fx("valid.npz"), "--gridsize", "2", "--neighbor-count", "3")).code).toBe(1);
    expect((await cli(fx("valid_min.npz"), "--phase-c")).code).toBe(1);
    expect((await cli(fx("nan_diffraction.npz"), "--headers-only")).code).toBe(0);
    expect((await cli(fx("nan_diffraction.npz"))).code).toBe(1);
  });
});

describe("npzguard check (formats)", () => {
  it("--json prints the machine report", async () => {
    const r = await cli(fx("missing_keys.npz"), fx("valid.npz"), "--json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { ok: boolean; files: { path: string; ok: boolean; violations: { rule: string }[] }[] };
    expect(j.ok).toBe(false);
    expect(j.files.map((f) => f.ok)).toEqual([false, true]);
    expect(j.files[0]!.violations[0]!.rule).toBe("data001/required-keys");
    const same = await cli(fx("missing_keys.npz"), fx("valid.npz"), "--format", "json");
    expect(JSON.parse(same.out).files.length).toBe(2);
  });

  it("--format junit and github", async () => {
    const x = await cli(fx("missing_keys.npz"), "--format", "junit");
    expect(x.out.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(x.out).toContain("<failure ");
    const g = await cli(fx("missing_keys.npz"), "--format", "github");
    expect(g.out).toMatch(/^::error file=.*missing_keys\.npz,title=data001\/required-keys::Missing required NPZ keys/m);
  });
});
