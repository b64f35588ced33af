// fixFile(): plan remedies for the fixable findings of IN (contract/check.ts report, same
// profile), write OUT beside itself and rename it, then check OUT with the same profile.
// IN is only read (pread on one descriptor); with `inPlace` the result replaces IN and IN is
// kept as IN.orig (a hard link to the untouched original) unless `backup: false`.
import { closeSync, constants, linkSync, lstatSync, openSync, unlinkSync } from "node:fs";
import { checkFile } from "../contract/check.js";
import type { Profile, Report } from "../contract/types.js";
import { NpzError } from "../errors.js";
import { openNpz, type NpzFile } from "../npz.js";
import type { ObjectStrings } from "../types.js";
import { VERSION } from "../version.js";
import { unicodeScalarNpy } from "../writer/npy.js";
import { arrayData, sumCounts } from "./member-io.js";
import { FixUsageError, checkOutput } from "./output.js";
import { planFix, type FixPlan, type MemberJob, type PlanInput } from "./plan.js";
import { appendTransformation, pickledDict, withTransformation } from "./metadata-text.js";
import { type PyJsonValue, pyJsonDump, pyJsonParse } from "../python/json.js";
import { readZipIndex } from "./zip-index.js";
import { ZipOut, type MemberRecord } from "./zip-out.js";
import { copyRawMember, sourceOf, unicodeNpy, writeBuffers, writeTransformed, type InputArchive } from "./write.js";

const PROFILES: readonly Profile[] = ["reference", "study", "tensorflow", "pytorch"];
const FIX_OPTION_KEYS = new Set(["profile", "dryRun", "force", "inPlace", "backup", "partial", "normalize", "align", "signal"]);

export interface FixOptions {
  /** Contract profile for the plan and the check of OUT (default "tensorflow"). */
  profile?: Profile;
  /** Plan only: write nothing. */
  dryRun?: boolean;
  /** Replace an existing OUT. */
  force?: boolean;
  /** Rewrite IN itself (OUT must be IN or omitted); IN is kept as IN.orig unless backup is false. */
  inPlace?: boolean;
  backup?: boolean;
  /** Write OUT even when some blocking finding has no remedy (OUT then fails its check). */
  partial?: boolean;
  /** Scale amplitudes of converted counts so the mean per-frame sum of squares is (N/2)^2. */
  normalize?: boolean;
  /** Alignment of STORED array data in OUT (power of two, default 64). */
  align?: number;
  /** Aborts the check or the writing: ERR_NPZ_ABORTED, the temporary file is removed. */
  signal?: AbortSignal;
}

export interface FixResult {
  plan: FixPlan;
  /** Where OUT was written (null: nothing written). */
  output: string | null;
  written: boolean;
  /** Check of OUT with the same profile (null when nothing was written). */
  verdict: Report | null;
  /** Members of OUT as written. */
  members: MemberRecord[];
  /** IN.orig when --in-place kept a backup. */
  backup?: string;
  /** Scale applied by --normalize, when counts were converted. */
  scale?: number;
  /** Why nothing was written, when nothing was. */
  reason?: "dry-run" | "unfixable" | "check-failed";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function checkAlign(align: unknown): number {
  if (align === undefined) return 64;
  if (typeof align !== "number" || !Number.isInteger(align) || align < 1 || align > 32768 || (align & (align - 1)) !== 0) {
    throw new RangeError(`Expected a power of two between 1 and 32768 for align, got ${String(align)}`);
  }
  return align;
}

function validate(input: unknown, output: unknown, options: unknown): FixOptions {
  if (typeof input !== "string" || input === "") throw new TypeError(`Expected a non-empty string for input, got ${JSON.stringify(input)}`);
  if (output !== undefined && output !== null && (typeof output !== "string" || output === ""))
    throw new TypeError(`Expected a non-empty string for output, got ${JSON.stringify(output)}`);
  if (options === undefined) return {};
  if (!isObject(options)) throw new TypeError(`Expected an object for options, got ${JSON.stringify(options)}`);
  for (const k of Object.keys(options))
    if (!FIX_OPTION_KEYS.has(k)) throw new TypeError(`Expected one of ${[...FIX_OPTION_KEYS].join(", ")} for options keys, got ${JSON.stringify(k)}`);
  const o = options as FixOptions;
  if (o.profile !== undefined && !PROFILES.includes(o.profile))
    throw new RangeError(`Expected one of ${PROFILES.join(", ")} for options.profile, got '${String(o.profile)}'`);
  for (const k of ["dryRun", "force", "inPlace", "backup", "partial", "normalize"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "boolean") throw new TypeError(`Expected a boolean for options.${k}, got ${JSON.stringify(o[k])}`);
  }
  checkAlign(o.align);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError("Expected an AbortSignal for options.signal");
  return o;
}

/**
 * Plans and applies the remedies for IN's fixable findings; writes OUT (or IN with inPlace).
 * Throws NpzError when IN is unreadable, FixUsageError for output misuse; findings are data.
 */
export async function fixFile(input: string, output: string | null | undefined, options?: FixOptions): Promise<FixResult> {
  const o = validate(input, output, options);
  const profile = o.profile ?? "tensorflow";
  const align = checkAlign(o.align);
  let out: string;
  if (o.inPlace) {
    if (output && output !== input) throw new FixUsageError("ERR_FIX_BAD_OPTION", "--in-place rewrites IN; do not give a different --out");
    out = input;
  } else {
    if (!output) throw new FixUsageError("ERR_FIX_BAD_OPTION", "an output path is needed (or inPlace)");
    out = output;
    if (!o.dryRun) checkOutput(input, out, o.force ?? false);
  }
  const backup = o.inPlace && o.backup !== false ? `${input}.orig` : undefined;
  if (backup && !o.dryRun) {
    let present = false;
    try {
      lstatSync(backup);
      present = true;
    } catch {
      /* absent */
    }
    if (present && !o.force) throw new FixUsageError("ERR_FIX_OUTPUT_EXISTS", `backup ${backup} exists (use --force to replace it)`);
  }

  const file = openNpz(input);
  let fd = -1;
  let zout: ZipOut | null = null;
  try {
    if (file.kind !== "npz") throw new FixUsageError("ERR_FIX_NOT_NPZ", `${input} is a .npy file; fix rewrites .npz archives`);
    const report = await checkFile(input, { profile, ...(o.signal ? { signal: o.signal } : {}) });
    if (report.readError) {
      throw new NpzError(report.readError.code as ConstructorParameters<typeof NpzError>[0], report.readError.message, {
        path: input,
        ...(report.readError.member ? { member: report.readError.member } : {}),
      });
    }
    const members = file.members();
    const strings = new Map<string, ObjectStrings | null>();
    for (const m of members) {
      if (m.header?.kind !== "O" || m.error || m.key === "_metadata") continue;
      try {
        strings.set(m.key, file.strings(m.key));
      } catch {
        strings.set(m.key, null);
      }
    }
    const meta = readMetadata(file);
    const plan = planFix({ report, members, strings, ...meta });
    if (o.dryRun) return { plan, output: null, written: false, verdict: null, members: [], reason: "dry-run" };
    if (plan.blocked && !o.partial) return { plan, output: null, written: false, verdict: null, members: [], reason: "unfixable" };

    fd = openSync(input, constants.O_RDONLY | constants.O_NONBLOCK);
    const entries = new Map(readZipIndex(fd, input).map((e) => [e.name, e]));
    if (entries.size !== members.length)
      throw new NpzError("ERR_NPZ_CORRUPT", `central directory lists ${entries.size} distinct names for ${members.length} members`, { path: input });
    const arch: InputArchive = { fd, path: input, entries };
    zout = new ZipOut(out, o.signal);
    const anyDeflated = members.some((m) => m.compression === "deflated");
    const written: MemberRecord[] = [];
    let scale: number | undefined;
    for (const job of plan.jobs) {
      written.push(await writeJob(zout, arch, job, { align, normalize: o.normalize ?? false, anyDeflated, plan, profile, setScale: (s) => (scale = s) }));
    }
    if (o.inPlace) zout.chmod(lstatSync(input).mode);
    zout.finish();
    const verdict = await checkFile(zout.tempPath, { profile, ...(o.signal ? { signal: o.signal } : {}) });
    verdict.path = out;
    if (!verdict.ok && !o.partial) {
      zout.abort();
      return { plan, output: null, written: false, verdict, members: written, reason: "check-failed", ...(scale !== undefined ? { scale } : {}) };
    }
    if (backup) {
      try {
        unlinkSync(backup);
      } catch {
        /* absent */
      }
      linkSync(input, backup);
    }
    zout.commit(out);
    return { plan, output: out, written: true, verdict, members: written, ...(backup ? { backup } : {}), ...(scale !== undefined ? { scale } : {}) };
  } catch (err) {
    zout?.abort();
    throw err;
  } finally {
    if (fd >= 0) closeSync(fd);
    file.close();
  }
}

/** `_metadata` as the planner takes it: JSON object text, or null with the reason when unusable. */
function readMetadata(file: NpzFile): Pick<PlanInput, "metadata" | "metadataSource" | "metadataValue" | "metadataRefusal"> {
  if (!file.has("_metadata")) return { metadata: undefined };
  const usable = (v: unknown) => isObject(v) && (v.data_transformations === undefined || Array.isArray(v.data_transformations));
  try {
    const text = file.strings("_metadata").items[0];
    return { metadata: typeof text === "string" && usable(file.metadata()) ? text : null, metadataSource: "text" };
  } catch (err) {
    if (!(err instanceof NpzError && err.code === "ERR_NPY_PICKLE_REFUSED")) return { metadata: null };
  }
  // Not a pickled str: a pickled dict (np.array(d, dtype=object)) becomes its json.dumps text.
  try {
    const value = pickledDict(file.pickledValue("_metadata"));
    const text = value ? pyJsonDump(value, 2) : null;
    if (!value || text === null || !usable(pyJsonParse(text))) return { metadata: null, metadataSource: "pickled-dict" };
    return { metadata: text, metadataSource: "pickled-dict", metadataValue: value };
  } catch (err) {
    if (err instanceof NpzError && err.code === "ERR_NPY_PICKLE_REFUSED") return { metadata: null, metadataRefusal: err.message };
    return { metadata: null };
  }
}

interface JobContext {
  align: number;
  normalize: boolean;
  anyDeflated: boolean;
  plan: FixPlan;
  profile: Profile;
  setScale(s: number): void;
}

async function writeJob(zout: ZipOut, arch: InputArchive, job: MemberJob, ctx: JobContext): Promise<MemberRecord> {
  const outName = `${job.outKey}.npy`;
  if (job.kind === "raw") {
    // Non-.npy members keep their name (e.g. a stray text file); .npy members get key + ".npy".
    const name = job.source.name.endsWith(".npy") ? outName : job.source.name;
    return copyRawMember(zout, arch, job.source, name, ctx.align);
  }
  if (job.kind === "metadata") {
    const record: PyJsonValue = {
      tool: "npzguard fix",
      timestamp: new Date().toISOString(),
      operation: "canonicalize",
      parameters: {
        profile: ctx.profile,
        normalize: ctx.normalize,
        npzguard_version: VERSION,
        remedies: ctx.plan.remedies.map((r) => ({ rule: r.rule, key: r.key, action: r.action, detail: r.detail })),
      },
    };
    // A decoded pickled dict is dumped whole (json.dumps(d, indent=2), the MetadataManager form);
    // existing JSON text keeps every byte and gets the record spliced in.
    const text = job.value ? pyJsonDump(withTransformation(job.value, record), 2) : appendTransformation(job.text, record);
    const level = job.source ? (job.source.compression === "deflated" ? 6 : undefined) : ctx.anyDeflated ? 6 : undefined;
    return writeBuffers(zout, outName, unicodeScalarNpy(text), { align: ctx.align, ...(level !== undefined ? { deflateLevel: level } : {}) });
  }
  const level = job.source.compression === "deflated" ? 6 : undefined;
  if (job.kind === "strings") {
    return writeBuffers(zout, outName, unicodeNpy(job.items, job.shape, job.fortranOrder), {
      align: ctx.align,
      ...(level !== undefined ? { deflateLevel: level } : {}),
    });
  }
  let scale: number | null = null;
  if (job.cast === "counts-sqrt" && ctx.normalize) {
    const h = job.header;
    const total = await sumCounts(arrayData(sourceOf(arch, job.source)), h.kind as "i" | "u", h.itemsize, h.bigEndian);
    const M = job.outShape[0] ?? 0;
    const N = job.outShape[1] ?? 0;
    if (!(total > 0) || M === 0)
      throw new NpzError("ERR_NPZ_CORRUPT", `cannot normalize '${job.source.key}': the counts sum to ${total}`, { path: arch.path, member: job.source.key });
    scale = Math.sqrt((N / 2) ** 2 / (total / M));
    ctx.setScale(scale);
  }
  return writeTransformed(zout, arch, job.source, outName, { ...job, scale }, { align: ctx.align, ...(level !== undefined ? { deflateLevel: level } : {}) });
}
