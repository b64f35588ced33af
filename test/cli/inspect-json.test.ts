// Acceptance review of `npzguard inspect` (issue 2 §4): the --json shape exactly as the issue
// pins it, exit codes and the one-line stderr format for missing files, junk and malformed
// members mixed with good files. (Directories: inspect-more.test.ts, since issue 13.)
import { afterEach, describe, expect, it, vi } from "vitest";
import { capture, type CliResult } from "../helpers/capture.js";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { run } from "../../src/cli/inspect.js";

// Inputs: test/fixtures/cli/inspect-json/, written by numpy (test/fixtures/gen_inputs.py).
const dir = fileURLToPath(new URL("../fixtures/cli/inspect-json/", import.meta.url));

const MEMBER_KEYS = ["byteLength", "compression", "descr", "fortranOrder", "key", "shape"];
const LINE = /^ERR_[A-Z0-9_]+: .+ \([^()]+\)$/;

interface JsonMember {
  key: string;
  descr: string | null;
  shape: number[] | null;
  fortranOrder: boolean | null;
  compression: string;
  byteLength: number | null;
  error?: { code: string; message: string };
}
interface JsonFile {
  path: string;
  format?: string;
  members?: JsonMember[];
  error?: { code: string; message: string };
}

const f = (name: string) => path.join(dir, name);

async function inspect(...argv: string[]): Promise<CliResult> {
  return capture(() => run(argv));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("npzguard inspect --json", () => {
  it("members carry exactly key, descr, shape, fortranOrder, compression, byteLength", async () => {
    const r = await inspect(f("good.npz"), f("fort.npy"), "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as { files: JsonFile[] };
    expect(Object.keys(out)).toEqual(["schemaVersion", "tool", "files"]); // the envelope of every --json document
    expect(out.files.map((x) => Object.keys(x).sort())).toEqual([
      ["format", "members", "path"],
      ["format", "members", "path"],
    ]);
    for (const file of out.files) {
      for (const m of file.members!) expect(Object.keys(m).sort()).toEqual(MEMBER_KEYS);
    }
    expect(out.files[0]!.members).toEqual([
      { key: "diffraction", descr: "<f4", shape: [2, 4, 4], fortranOrder: false, compression: "stored", byteLength: 128 },
      { key: "a/b", descr: ">i4", shape: [3], fortranOrder: false, compression: "stored", byteLength: 12 },
    ]);
    expect(out.files[1]).toEqual({
      path: f("fort.npy"),
      format: "npy",
      members: [{ key: "fort", descr: "<c8", shape: [2, 3], fortranOrder: true, compression: "stored", byteLength: 48 }],
    });
  });

  it("an archive without arrays is readable: members [] and exit 0", async () => {
    const r = await inspect(f("empty.npz"), "--json");
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { files: JsonFile[] }).files).toEqual([{ path: f("empty.npz"), format: "npz", members: [] }]);
  });

  it("missing file and junk mixed with a good file: error objects, one stderr line each, exit 3", async () => {
    // (A directory used to be one of the unreadable inputs here; issue 13 made `inspect DIR` list
    // the files in it: see inspect-more.test.ts.)
    const r = await inspect(f("good.npz"), f("missing.npz"), f("junk.npz"), "--json");
    expect(r.code).toBe(3);
    const files = (JSON.parse(r.stdout) as { files: JsonFile[] }).files;
    expect(files.map((x) => x.path)).toEqual([f("good.npz"), f("missing.npz"), f("junk.npz")]);
    expect(files[0]!.members).toHaveLength(2);
    expect(files[0]!.error).toBeUndefined();
    for (const bad of files.slice(1)) {
      expect(Object.keys(bad).sort()).toEqual(["error", "path"]);
      expect(Object.keys(bad.error!).sort()).toEqual(["code", "message"]);
    }
    expect(files[1]!.error!.code).toBe("ERR_NPZ_OPEN");
    expect(["ERR_NPZ_NOT_ZIP", "ERR_NPZ_CORRUPT"]).toContain(files[2]!.error!.code);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(LINE);
    expect(lines[0]!.startsWith("ERR_NPZ_OPEN: ")).toBe(true);
    expect(lines[0]!.endsWith(`(${f("missing.npz")})`)).toBe(true);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a malformed member: the file also gets a file-level error, stderr names path:member", async () => {
    const r = await inspect(f("badmember.npz"), "--json");
    expect(r.code).toBe(3);
    const [file] = (JSON.parse(r.stdout) as { files: JsonFile[] }).files;
    expect(file!.error!.code).toBe("ERR_NPY_BAD_HEADER");
    expect(file!.members!.map((m) => [m.key, m.error?.code])).toEqual([
      ["ok", undefined],
      ["broken", "ERR_NPY_BAD_HEADER"],
    ]);
    const line = r.stderr.trimEnd();
    expect(line).toMatch(LINE);
    expect(line.startsWith("ERR_NPY_BAD_HEADER: ")).toBe(true);
    expect(line.endsWith(`(${f("badmember.npz")}:broken)`)).toBe(true);
  });

  it("--debug adds a stack trace; the table form still exits 3 for unreadable files", async () => {
    const plain = await inspect(f("missing.npz"));
    expect(plain.code).toBe(3);
    expect(plain.stderr.trimEnd().split("\n")).toHaveLength(1);
    const debug = await inspect(f("missing.npz"), "--debug");
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
