// Success evidence for one handed-off job (study spec §10.2, §10.3 step 5): the trainer's exit
// status is never enough. A job succeeded only when its exit code is 0, its result reads
// "success" (from the artifact root's training_manifest.json when that manifest is provably this
// job's, else from the tail of the job's own train.log) and <artifact_dir>/wts.h5.zip exists with
// the size and SHA-256 the trainer reported (recomputed here in 64 KiB chunks).
import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import type { TrainingJob } from "../study/types.js";
import { joinPath } from "./trainer-command.js";
import { pyJsonParse } from "../python/json.js";

export const BUNDLE_NAME = "wts.h5.zip";
export const MANIFEST_NAME = "training_manifest.json";
const CHUNK = 65_536;

// ---------------------------------------------------------------------------------------------
// Python-flavoured JSON (json.dump emits bare NaN / Infinity / -Infinity)

/** JSON.parse that also accepts Python's NaN, Infinity and -Infinity tokens (see pyformat). */
export const parsePythonJson = pyJsonParse;

// ---------------------------------------------------------------------------------------------
// Bundle hashing

/** Lowercase hex SHA-256 of a file, read in 64 KiB chunks (as the trainer computes it). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

export interface BundleFacts {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** Size and SHA-256 of `<artifact_dir>/wts.h5.zip`, or null when it is absent. */
export async function bundleFacts(artifactDir: string): Promise<BundleFacts | null> {
  const path = joinPath(artifactDir, BUNDLE_NAME);
  try {
    const st = await stat(path);
    if (!st.isFile()) return null;
    return { path, sizeBytes: st.size, sha256: await sha256File(path) };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Trainer claims: from the manifest or from train.log

export type EvidenceSource = "manifest" | "train.log";

/** What the trainer says about one job. */
export interface TrainerClaim {
  source: EvidenceSource;
  status: string | null; // result.status ("success" | "failed" | ...)
  error: string | null;
  bundleSha256: string | null;
  bundleSizeBytes: number | null;
  /** result.final_loss: a number (NaN included), or null when the trainer reported none. */
  finalLoss?: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses the manifest's UTC ISO timestamp (`...T..:..:..[.ffffff]Z`, naive means UTC) to ms. */
export function parseUtcTimestamp(ts: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|\+00:00)?$/.exec(ts.trim());
  if (!m) return null;
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + frac;
}

export type ManifestVerdict = { usable: true; claim: TrainerClaim; text: string } | { usable: false; why: string };

/**
 * The manifest counts as evidence for `job` only when its filters name exactly this job and its
 * timestamp is not before the job's start; then it must hold exactly one matching job entry.
 */
export function claimFromManifest(text: string, job: TrainingJob, jobStartMs: number): ManifestVerdict {
  let doc: unknown;
  try {
    doc = parsePythonJson(text);
  } catch (e) {
    return { usable: false, why: `manifest unreadable: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!isRecord(doc)) return { usable: false, why: "manifest is not an object" };
  const f = doc.filters;
  if (!isRecord(f) || f.dose !== job.dose || f.view !== job.view || f.gridsize !== job.gridsize) {
    return { usable: false, why: "manifest filters do not name this job" };
  }
  const ts = typeof doc.timestamp === "string" ? parseUtcTimestamp(doc.timestamp) : null;
  if (ts === null) return { usable: false, why: "manifest timestamp missing or malformed" };
  if (ts < jobStartMs) return { usable: false, why: "manifest predates the job start" };
  if (doc.dry_run === true) return { usable: false, why: "manifest is from a dry run" };
  const jobs = Array.isArray(doc.jobs) ? doc.jobs : [];
  const matching = jobs.filter((j): j is Record<string, unknown> => isRecord(j) && j.dose === job.dose && j.view === job.view && j.gridsize === job.gridsize);
  if (matching.length !== 1) {
    return {
      usable: true,
      text,
      claim: {
        source: "manifest",
        status: null,
        error: `manifest holds ${matching.length} entries for this job, expected exactly 1`,
        bundleSha256: null,
        bundleSizeBytes: null,
        finalLoss: null,
      },
    };
  }
  const r = (matching[0] as Record<string, unknown>).result;
  const result = isRecord(r) ? r : {};
  return {
    usable: true,
    text,
    claim: {
      source: "manifest",
      status: typeof result.status === "string" ? result.status : null,
      error: typeof result.error === "string" ? result.error : null,
      bundleSha256: typeof result.bundle_sha256 === "string" ? result.bundle_sha256 : null,
      bundleSizeBytes: typeof result.bundle_size_bytes === "number" ? result.bundle_size_bytes : null,
      finalLoss: typeof result.final_loss === "number" ? result.final_loss : null,
    },
  };
}

const HEADER_RE = /^Phase E5 Training Execution /;

/**
 * Reads the claim from the text a run appended to train.log: only lines after the last
 * "Phase E5 Training Execution" header count, and success needs "Training completed successfully"
 * followed by "Bundle SHA256: <hex>" and "Bundle size: <n> bytes".
 */
export function claimFromTrainLog(text: string): TrainerClaim {
  const lines = text.split(/\r?\n/);
  let start = -1;
  for (let k = lines.length - 1; k >= 0; k--) {
    if (HEADER_RE.test(lines[k] ?? "")) {
      start = k;
      break;
    }
  }
  const claim: TrainerClaim = { source: "train.log", status: null, error: null, bundleSha256: null, bundleSizeBytes: null, finalLoss: null };
  if (start < 0) {
    claim.error = "train.log has no training header from this run";
    return claim;
  }
  const run = lines.slice(start + 1);
  const done = run.lastIndexOf("Training completed successfully");
  if (done < 0) {
    const failure = [...run].reverse().find((l) => /failed|Error|Traceback/.test(l));
    claim.status = "failed";
    claim.error = failure?.trim() ?? "train.log has no 'Training completed successfully' line";
    return claim;
  }
  claim.status = "success";
  for (const line of run.slice(done + 1)) {
    const sha = /^Bundle SHA256: ([0-9a-fA-F]{64})\s*$/.exec(line);
    if (sha) claim.bundleSha256 = (sha[1] as string).toLowerCase();
    const size = /^Bundle size: ([0-9]+) bytes\s*$/.exec(line);
    if (size) claim.bundleSizeBytes = Number(size[1]);
    const loss = /^Final loss: (\S+)\s*$/.exec(line);
    if (loss) claim.finalLoss = /^(nan|-?inf(inity)?)$/i.test(loss[1] as string) ? parsePyNumber(loss[1] as string) : Number(loss[1]);
  }
  return claim;
}

// ---------------------------------------------------------------------------------------------
// The verdict

export interface EvidenceInput {
  job: TrainingJob;
  artifactRoot: string;
  /** Wall-clock ms when the trainer process was started. */
  startMs: number;
  exitCode: number | null;
  signal?: string | null;
  /** Size of the job's train.log before launch; only text appended after it is read. */
  trainLogOffset?: number;
}

export interface Evidence {
  ok: boolean;
  source: EvidenceSource | null;
  /** result.status as the trainer reported it (null when no claim was found). */
  resultStatus: string | null;
  /** Why the job counts as failed (empty when ok). */
  reasons: string[];
  trainerError: string | null;
  bundlePath: string | null;
  bundleSha256: string | null;
  bundleSizeBytes: number | null;
  /** Raw manifest text when the manifest was the evidence (to be archived by the caller). */
  manifestText: string | null;
  /** Doubts about a success that do not fail it (NaN or missing final_loss). */
  warnings: string[];
}

function parsePyNumber(t: string): number {
  const l = t.toLowerCase();
  if (l === "nan") return NaN;
  return l.startsWith("-") ? -Infinity : Infinity;
}

async function readTail(path: string, offset: number, notBeforeMs: number): Promise<string | null> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    // A log untouched since before the launch belongs to an earlier run.
    if (st.mtimeMs + 1 < notBeforeMs) return null;
    const from = offset <= st.size ? offset : 0;
    const buf = Buffer.alloc(st.size - from);
    await fh.read(buf, 0, buf.length, from);
    return buf.toString("utf8");
  } finally {
    await fh.close();
  }
}

/** Decides whether a finished trainer process really trained the job. */
export async function collectEvidence(input: EvidenceInput): Promise<Evidence> {
  const { job } = input;
  const ev: Evidence = {
    ok: false,
    source: null,
    resultStatus: null,
    reasons: [],
    trainerError: null,
    bundlePath: null,
    bundleSha256: null,
    bundleSizeBytes: null,
    manifestText: null,
    warnings: [],
  };
  if (input.exitCode !== 0) {
    ev.reasons.push(input.exitCode === null ? `trainer killed by ${input.signal ?? "a signal"}` : `trainer exited with status ${input.exitCode}`);
  }

  let claim: TrainerClaim | null = null;
  let manifestWhy = "manifest absent";
  try {
    const text = await readFile(joinPath(input.artifactRoot, MANIFEST_NAME), "utf8");
    const verdict = claimFromManifest(text, job, input.startMs);
    if (verdict.usable) {
      claim = verdict.claim;
      ev.manifestText = verdict.text;
    } else manifestWhy = verdict.why;
  } catch {
    /* absent: fall back to train.log */
  }
  if (claim === null) {
    const tail = await readTail(job.logPath, input.trainLogOffset ?? 0, input.startMs);
    if (tail !== null) claim = claimFromTrainLog(tail);
  }
  if (claim === null) {
    ev.reasons.push(`no evidence: ${manifestWhy} and no train.log written by this run`);
  } else {
    ev.source = claim.source;
    ev.resultStatus = claim.status;
    ev.trainerError = claim.error;
    if (claim.status !== "success") {
      ev.reasons.push(`result status ${claim.status === null ? "missing" : `'${claim.status}'`}${claim.error ? `: ${claim.error}` : ""}`);
    }
  }

  const facts = await bundleFacts(job.artifactDir);
  if (facts) {
    ev.bundlePath = facts.path;
    ev.bundleSha256 = facts.sha256;
    ev.bundleSizeBytes = facts.sizeBytes;
  }
  if (claim !== null && claim.status === "success") {
    if (!facts) ev.reasons.push(`bundle ${joinPath(job.artifactDir, BUNDLE_NAME)} is missing`);
    else {
      if (claim.bundleSizeBytes === null) ev.reasons.push("trainer reported no bundle size");
      else if (claim.bundleSizeBytes !== facts.sizeBytes) {
        ev.reasons.push(`bundle size ${facts.sizeBytes} bytes differs from the reported ${claim.bundleSizeBytes}`);
      }
      if (claim.bundleSha256 === null) ev.reasons.push("trainer reported no bundle SHA-256");
      else if (claim.bundleSha256.toLowerCase() !== facts.sha256) {
        ev.reasons.push(`bundle SHA-256 ${facts.sha256} differs from the reported ${claim.bundleSha256}`);
      }
    }
  }
  ev.ok = ev.reasons.length === 0;
  if (ev.ok && claim !== null) {
    const loss = claim.finalLoss ?? null;
    if (loss === null) ev.warnings.push(`trainer reported no final_loss (${claim.source})`);
    else if (!Number.isFinite(loss)) ev.warnings.push(`final_loss is ${loss} (${claim.source}): the model may not have trained`);
  }
  return ev;
}
