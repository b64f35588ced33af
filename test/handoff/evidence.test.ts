import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimFromManifest, claimFromTrainLog, collectEvidence, parsePythonJson, parseUtcTimestamp, sha256File } from "../../src/handoff/evidence.js";
import type { TrainingJob } from "../../src/study/types.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "npzguard-evidence-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function job(root: string, view: TrainingJob["view"] = "dense", dose = 1000): TrainingJob {
  const gs = view === "baseline" ? 1 : 2;
  const artifactDir = `${root}/dose_${dose}/${view}/gs${gs}`;
  return {
    dose,
    view,
    gridsize: gs,
    trainDataPath: `${root}/in/train.npz`,
    testDataPath: `${root}/in/test.npz`,
    artifactDir,
    logPath: `${artifactDir}/train.log`,
  };
}

function pyStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1123Z");
}

interface Written {
  sha: string;
  size: number;
}

/** Writes what the reference trainer leaves behind for one successful job. */
function writeSuccess(j: TrainingJob, root: string, opts: { timestampMs?: number; filters?: object; sha?: string } = {}): Written {
  mkdirSync(j.artifactDir, { recursive: true });
  const bundle = Buffer.alloc(70_000, 7);
  writeFileSync(`${j.artifactDir}/wts.h5.zip`, bundle);
  const sha = createHash("sha256").update(bundle).digest("hex");
  const claimed = opts.sha ?? sha;
  const manifest = `{
  "timestamp": "${pyStamp(opts.timestampMs ?? Date.now() + 1000)}",
  "phase_c_root": "c", "phase_d_root": "d", "artifact_root": "${root}",
  "filters": ${JSON.stringify(opts.filters ?? { dose: j.dose, view: j.view, gridsize: j.gridsize })},
  "dry_run": false,
  "jobs": [{"dose": ${j.dose}.0, "view": "${j.view}", "gridsize": ${j.gridsize}, "result": {
     "status": "success", "final_loss": NaN, "epochs_completed": 2, "checkpoint_path": null,
     "bundle_path": "wts.h5.zip", "bundle_sha256": "${claimed}", "bundle_size_bytes": ${bundle.length},
     "training_results": {"x": Infinity, "y": -Infinity}}}],
  "skipped_views": [], "skipped_count": 0, "skip_summary_path": "skip_summary.json"
}`;
  writeFileSync(`${root}/training_manifest.json`, manifest);
  writeFileSync(
    j.logPath,
    [
      "=".repeat(80),
      `Phase E5 Training Execution \u2014 ${j.view} (dose=1e+03, gridsize=${j.gridsize}, backend=tensorflow)`,
      "=".repeat(80),
      "Training completed successfully",
      "Final loss: nan",
      `Bundle path: ${j.artifactDir}/wts.h5.zip`,
      `Bundle SHA256: ${claimed}`,
      `Bundle size: ${bundle.length} bytes`,
      "",
    ].join("\n"),
  );
  return { sha, size: bundle.length };
}

describe("parsePythonJson()", () => {
  it("accepts the bare NaN / Infinity / -Infinity tokens Python's json writes", () => {
    const v = parsePythonJson('{"a": NaN, "b": [Infinity, -Infinity, 1.5e3], "c": "x"}') as Record<string, unknown>;
    expect(Number.isNaN(v.a)).toBe(true);
    expect(v.b).toEqual([Infinity, -Infinity, 1500]);
    expect(v.c).toBe("x");
  });
  it("rejects malformed text", () => {
    expect(() => parsePythonJson('{"a": nan}')).toThrow();
  });
});

describe("parseUtcTimestamp()", () => {
  it("reads Python's isoformat()+'Z' with microseconds", () => {
    expect(parseUtcTimestamp("2026-01-02T03:04:05.123456Z")).toBeCloseTo(Date.UTC(2026, 0, 2, 3, 4, 5) + 123.456, 3);
    expect(parseUtcTimestamp("2026-01-02T03:04:05Z")).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseUtcTimestamp("yesterday")).toBeNull();
  });
});

describe("sha256File()", () => {
  it("matches hashlib on a file larger than one 64 KiB chunk", async () => {
    const p = join(dir, "blob.bin");
    const data = Buffer.alloc(200_001);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    writeFileSync(p, data);
    const py = execFileSync("python3", ["-c", "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())", p]).toString().trim();
    expect(await sha256File(p)).toBe(py);
  });
});

describe("claimFromManifest()", () => {
  it("uses a manifest whose filters name exactly the job and that postdates its start", () => {
    const j = job(dir);
    writeSuccess(j, dir);
    const text = readFileSync(join(dir, "training_manifest.json"), "utf8");
    const v = claimFromManifest(text, j, Date.now());
    expect(v.usable).toBe(true);
    if (v.usable) expect(v.claim.status).toBe("success");
  });
  it("ignores a manifest written for another job (GPU pool)", () => {
    const j = job(dir);
    writeSuccess(j, dir, { filters: { dose: 1000, view: "sparse", gridsize: 2 } });
    const text = readFileSync(join(dir, "training_manifest.json"), "utf8");
    expect(claimFromManifest(text, j, Date.now()).usable).toBe(false);
  });
  it("ignores a manifest older than the job start", () => {
    const j = job(dir);
    writeSuccess(j, dir, { timestampMs: Date.now() - 60_000 });
    const text = readFileSync(join(dir, "training_manifest.json"), "utf8");
    expect(claimFromManifest(text, j, Date.now()).usable).toBe(false);
  });
  it("ignores an unfiltered manifest", () => {
    const j = job(dir);
    writeSuccess(j, dir, { filters: { dose: null, view: null, gridsize: null } });
    const text = readFileSync(join(dir, "training_manifest.json"), "utf8");
    expect(claimFromManifest(text, j, Date.now()).usable).toBe(false);
  });
});

describe("claimFromTrainLog()", () => {
  it("only reads the lines after the last header", () => {
    const old = ["Phase E5 Training Execution \u2014 dense", "Training completed successfully", `Bundle SHA256: ${"a".repeat(64)}`, "Bundle size: 5 bytes"];
    const fresh = ["Phase E5 Training Execution \u2014 dense", "Dataset contract validation failed: ValueError: bad"];
    const c = claimFromTrainLog([...old, ...fresh].join("\n"));
    expect(c.status).toBe("failed");
    expect(c.error).toContain("Dataset contract validation failed");
  });
  it("reads the bundle facts from the tail", () => {
    const c = claimFromTrainLog(
      [
        "Phase E5 Training Execution \u2014 x",
        "Bundle SHA256: " + "b".repeat(64),
        "Training completed successfully",
        "Bundle SHA256: " + "C".repeat(64),
        "Bundle size: 12 bytes",
      ].join("\n"),
    );
    expect(c).toMatchObject({ status: "success", bundleSha256: "c".repeat(64), bundleSizeBytes: 12, source: "train.log" });
  });
  it("reports a log without a header as no claim", () => {
    expect(claimFromTrainLog("Training completed successfully\n").status).toBeNull();
  });
});

describe("collectEvidence()", () => {
  it("accepts exit 0 + manifest success + matching bundle", async () => {
    const j = job(dir);
    const w = writeSuccess(j, dir);
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 10, exitCode: 0 });
    expect(ev).toMatchObject({ ok: true, source: "manifest", resultStatus: "success", bundleSha256: w.sha, bundleSizeBytes: w.size });
    expect(ev.manifestText).not.toBeNull();
  });
  it("fails a success claim whose SHA-256 does not match the bundle", async () => {
    const j = job(dir);
    writeSuccess(j, dir, { sha: "0".repeat(64) });
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 10, exitCode: 0 });
    expect(ev.ok).toBe(false);
    expect(ev.resultStatus).toBe("success");
  });
  it("fails a success claim whose bundle is missing", async () => {
    const j = job(dir);
    writeSuccess(j, dir);
    rmSync(`${j.artifactDir}/wts.h5.zip`);
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 10, exitCode: 0 });
    expect(ev.ok).toBe(false);
    expect(ev.bundleSha256).toBeNull();
  });
  it("fails a non-zero exit even with perfect files", async () => {
    const j = job(dir);
    writeSuccess(j, dir);
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 10, exitCode: 1 });
    expect(ev.ok).toBe(false);
    expect(ev.resultStatus).toBe("success");
  });
  it("falls back to train.log when the manifest belongs to another job", async () => {
    const j = job(dir);
    writeSuccess(j, dir, { filters: { dose: 1000, view: "baseline", gridsize: 1 } });
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 1000, exitCode: 0 });
    expect(ev).toMatchObject({ ok: true, source: "train.log" });
  });
  it("finds no evidence when the only train.log predates the launch", async () => {
    const j = job(dir);
    writeSuccess(j, dir, { filters: { dose: 1000, view: "baseline", gridsize: 1 } });
    const past = new Date(Date.now() - 120_000);
    utimesSync(j.logPath, past, past);
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 1000, exitCode: 0 });
    expect(ev.ok).toBe(false);
    expect(ev.source).toBeNull();
  });
  it("reads only what this run appended to train.log", async () => {
    const j = job(dir);
    writeSuccess(j, dir, { filters: { dose: 1000, view: "baseline", gridsize: 1 } });
    const offset = String(statSync(j.logPath).size);
    const ev = await collectEvidence({ job: j, artifactRoot: dir, startMs: Date.now() - 1000, exitCode: 0, trainLogOffset: Number(offset) });
    expect(ev.ok).toBe(false);
  });
});
