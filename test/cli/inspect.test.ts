// `npzguard inspect`: table / --json output, exit codes, one stderr line per failure.
import { afterEach, describe, expect, it, vi } from "vitest";
import { capture, type CliResult } from "../helpers/capture.js";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { run } from "../../src/cli/inspect.js";

// Inputs: test/fixtures/cli/inspect/, written by numpy (test/fixtures/gen_inputs.py).
const dir = fileURLToPath(new URL("../fixtures/cli/inspect/", import.meta.url));

const f = (name: string) => path.join(dir, name);

async function inspect(...argv: string[]): Promise<CliResult> {
  return capture(() => run(argv));
}

interface JsonOut {
  files: {
    path: string;
    format?: string;
    members?: {
      key: string;
      descr: string | null;
      shape: number[] | null;
      fortranOrder: boolean | null;
      compression: string;
      byteLength: number | null;
      error?: { code: string };
    }[];
    error?: { code: string; message: string };
  }[];
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("npzguard inspect", () => {
  it("--json lists every member of npz and npy files, exit 0", async () => {
    const r = await inspect(f("ok.npz"), f("comp.npz"), f("one.npy"), "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files.map((x) => x.format)).toEqual(["npz", "npz", "npy"]);
    expect(out.files[0]!.path).toBe(f("ok.npz"));
    expect(out.files[0]!.members![0]).toMatchObject({
      key: "diffraction",
      descr: "<f4",
      shape: [4, 8, 8],
      fortranOrder: false,
      compression: "stored",
      byteLength: 1024,
    });
    expect(out.files[1]!.members!.map((m) => [m.key, m.compression, m.fortranOrder])).toEqual([
      ["probeGuess", "deflated", false],
      ["fort", "deflated", true],
    ]);
    expect(out.files[2]!.members).toEqual([expect.objectContaining({ key: "one", descr: "<i8", shape: [5], byteLength: 40 })]);
  });

  it("prints a table per file by default", async () => {
    const r = await inspect(f("ok.npz"), f("one.npy"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("diffraction");
    expect(r.stdout).toContain("4x8x8");
    expect(r.stdout).toContain("xcoords");
    expect(r.stdout).toContain("one");
  });

  it("exit 3 with an error object and one stderr line for an unreadable file", async () => {
    const r = await inspect(f("ok.npz"), f("junk.npz"), f("missing.npz"), "--json");
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.files[0]!.members!.length).toBe(2);
    expect(out.files[1]!.members).toBeUndefined();
    expect(["ERR_NPZ_NOT_ZIP", "ERR_NPZ_CORRUPT", "ERR_NPY_BAD_MAGIC"]).toContain(out.files[1]!.error!.code);
    expect(out.files[2]!.error!.code).toBe("ERR_NPZ_OPEN");
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(2);
    expect(lines[1]!.startsWith("ERR_NPZ_OPEN: ")).toBe(true);
    expect(lines[1]!.endsWith(`(${f("missing.npz")})`)).toBe(true);
  });

  it("a member-level error counts as unreadable (exit 3)", async () => {
    const r = await inspect(f("badmember.npz"), "--json");
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as JsonOut;
    const [good, bad] = out.files[0]!.members!;
    expect(good!.error).toBeUndefined();
    expect(bad!.error!.code).toBe("ERR_NPY_BAD_VERSION");
    expect(r.stderr.trim()).toMatch(/^ERR_NPY_BAD_VERSION: .*\(.*badmember\.npz:bad\)$/);
  });

  it("usage errors exit 2", async () => {
    expect((await inspect()).code).toBe(2);
    expect((await inspect(f("ok.npz"), "--bogus")).code).toBe(2);
  });
});
