// The remedy planner of `npzguard fix`: from the checker's report of IN (same profile) and the
// members' NPY headers, one job per output member and one remedy per (rule id, key) it answers.
// Remedies key on the rule ids the checker emits (contract/rules.ts); a violation that no
// remedy answers is either unfixable (error severity: the file cannot be made to pass) or kept
// as it is (warning/info). Pure: no I/O beyond what the caller passes in.
import { detectLegacyLayout } from "../contract/layout.js";
import type { Report, Severity } from "../contract/types.js";
import type { MemberInfo, NpyHeaderInfo, ObjectStrings } from "../types.js";
import { KNOWN_KEYS } from "../contract/engine.js";
import { pyShape } from "../contract/reference.js";
import type { PyDict } from "../python/json.js";

/** One remedy applied: the checker's rule id, the member it changes, what is done. */
export interface Remedy {
  rule: string;
  key: string;
  action:
    | "rename"
    | "drop-duplicate"
    | "counts-to-amplitude"
    | "squeeze"
    | "transpose-legacy"
    | "to-complex64"
    | "to-float32"
    | "copy-coords"
    | "to-native-endian"
    | "to-c-order"
    | "strings-to-unicode"
    | "metadata-to-json"
    | "align";
  detail: string;
}

/** A finding left in place: `blocking` ones (error severity) make the fix fail without --partial. */
export interface Unfixed {
  rule: string;
  key: string | null;
  severity: Severity;
  message: string;
  reason: string;
  blocking: boolean;
}

/** What the writer does for one output member. */
export type MemberJob =
  | { kind: "raw"; outKey: string; source: MemberInfo }
  | {
      kind: "transform";
      outKey: string;
      source: MemberInfo;
      header: NpyHeaderInfo;
      outDescr: string;
      outShape: number[];
      /** C-order shape of the stored data and the permutation to apply (null: none). */
      storedShape: number[];
      perm: number[] | null;
      swap: boolean;
      cast: "none" | "f8-f4" | "c16-c8" | "counts-sqrt";
    }
  | { kind: "strings"; outKey: string; source: MemberInfo; header: NpyHeaderInfo; items: string[]; shape: number[]; fortranOrder: boolean }
  | {
      kind: "metadata";
      outKey: "_metadata";
      source: MemberInfo | null;
      text: string;
      /** The decoded pickled dict (text is its json.dumps form): the record is added before dumping. */
      value?: PyDict;
    };

export interface FixPlan {
  input: string;
  profile: Report["profile"];
  remedies: Remedy[];
  unfixed: Unfixed[];
  /** True when some blocking finding has no remedy. */
  blocked: boolean;
  jobs: MemberJob[];
  /** Why `_metadata` gets no transformation record, when it does not. */
  metadataNote?: string;
}

export interface PlanInput {
  report: Report;
  members: MemberInfo[];
  /** Strings of |O members (key -> strings or null when refused/unreadable). */
  strings: ReadonlyMap<string, ObjectStrings | null>;
  /** `_metadata` JSON text (an object), null when present but unusable, undefined when absent. */
  metadata: string | null | undefined;
  /** "pickled-dict": the text was made from a pickled dict (json.dumps form, a remedy of its own). */
  metadataSource?: "text" | "pickled-dict";
  /** The decoded pickled dict behind `metadata`, when metadataSource is "pickled-dict". */
  metadataValue?: PyDict;
  /** Why a pickled `_metadata` could not be decoded (the walker's ERR_NPY_PICKLE_REFUSED message). */
  metadataRefusal?: string;
}

const REASONS: Record<string, string> = {
  "data001/diffraction-finite": "non-finite values have no safe replacement",
  "data001/diffraction-nonnegative": "negative amplitudes or counts have no safe replacement",
  "data001/diffraction-nonzero": "an all-zero stack or frame carries no data",
  "data001/coords-length": "arrays disagree on the number of positions M; which ones are right cannot be known",
  "data001/required-keys": "a missing probe, object or coordinate array cannot be invented",
  "data001/diffraction-key-conflict": "diff3d and diffraction differ; which one is meant cannot be known",
  "data001/probe-values": "a non-finite or empty probe has no safe replacement",
  "data001/object-values": "a non-finite object has no safe replacement",
  "data001/coords-values": "non-finite or out-of-range positions have no safe replacement",
  "npz/integrity": "corrupt member data cannot be recovered",
  "npz/member-names": "duplicate or unsafe member names: which member is meant cannot be known",
  "npz/pickle-refused": "npzguard never executes pickles, so this member cannot be converted",
  "npz/pickled-member": "the object array holds values other than str",
};

const COMPLEX_KEYS = new Set(["probeGuess", "objectGuess", "Y"]);
// The keys the checker reports Fortran order for (npz/fortran-order: the §4 inventory), bar the
// 0-d `_metadata` string, where the order is meaningless.
const FORTRAN_KEYS: ReadonlySet<string> = new Set([...KNOWN_KEYS].filter((k) => k !== "_metadata"));

const shapeText = pyShape;

function componentSize(h: NpyHeaderInfo): number {
  return h.kind === "c" ? h.itemsize / 2 : h.kind === "U" ? 4 : h.itemsize;
}

export function planFix(input: PlanInput): FixPlan {
  const { report, members } = input;
  const remedies: Remedy[] = [];
  const jobs: MemberJob[] = [];
  const first = new Map<string, MemberInfo>();
  for (const m of members) if (!first.has(m.key)) first.set(m.key, m);
  const has = (k: string) => first.has(k);
  const hdr = (k: string) => {
    const m = first.get(k);
    return m && !m.error && m.header ? m.header : null;
  };

  const rename = has("diff3d") && !has("diffraction") && !!hdr("diff3d");
  if (rename) remedies.push({ rule: "data001/required-keys", key: "diff3d", action: "rename", detail: "diff3d -> diffraction" });
  let dropDiff3d = false;
  if (has("diff3d") && has("diffraction")) {
    const conflict = report.violations.find((v) => v.rule === "data001/diffraction-key-conflict");
    if (conflict && /byte-identical/.test(conflict.message)) {
      dropDiff3d = true;
      remedies.push({
        rule: "data001/diffraction-key-conflict",
        key: "diff3d",
        action: "drop-duplicate",
        detail: "diff3d is byte-identical to diffraction: dropped",
      });
    }
  }
  const dKey = has("diffraction") ? "diffraction" : rename ? "diff3d" : null;
  let newM: number | null = null; // first axis of the diffraction after a legacy transpose
  const x = hdr("xcoords");
  const n = x && x.shape.length === 1 ? (x.shape[0] as number) : null;
  // Number of positions for Y: TF load_data keeps Y only when Y.shape[0] == len(xcoords).
  const dh = dKey ? hdr(dKey) : null;
  const yPositions = n ?? (dh && dh.shape.length >= 3 ? (dh.shape[0] as number) : null);

  for (const m of members) {
    if (first.get(m.key) !== m) continue; // duplicates: npz/member-names, blocking
    if (m.key === "diff3d" && dropDiff3d) continue;
    if (m.key === "_metadata") {
      if (typeof input.metadata === "string" && input.metadataSource === "pickled-dict") {
        remedies.push({
          rule: "npz/pickle-refused",
          key: "_metadata",
          action: "metadata-to-json",
          detail: "pickled dict -> JSON string (json.dumps(d, indent=2), 0-d <U)",
        });
      }
      jobs.push(
        typeof input.metadata === "string"
          ? { kind: "metadata", outKey: "_metadata", source: m, text: input.metadata, ...(input.metadataValue ? { value: input.metadataValue } : {}) }
          : { kind: "raw", outKey: m.key, source: m },
      );
      continue;
    }
    const outKey = m.key === "diff3d" && rename ? "diffraction" : m.key;
    const h = m.error ? null : m.header;
    if (!h || !m.npyMagic) {
      jobs.push({ kind: "raw", outKey, source: m });
      continue;
    }
    const isDiff = m.key === dKey;
    // A per-image Y (first axis = the number of positions) is squeezed like transpose_rename_convert
    // does; a singleton (1, N, N, 1) (Phase C, ignored by both loaders) is kept.
    const isPerImageY = m.key === "Y" && yPositions !== null && h.shape[0] === yPositions;
    if (h.kind === "O") {
      const s = input.strings.get(m.key);
      if (s?.items.every((i): i is string => typeof i === "string")) {
        remedies.push({
          rule: "npz/pickled-member",
          key: m.key,
          action: "strings-to-unicode",
          detail: `pickled str array ${shapeText(s.shape)} -> numpy unicode`,
        });
        jobs.push({ kind: "strings", outKey, source: m, header: h, items: s.items as string[], shape: [...s.shape], fortranOrder: s.fortranOrder });
      } else {
        jobs.push({ kind: "raw", outKey, source: m });
      }
      continue;
    }
    const numeric = h.supported && ["b", "i", "u", "f", "c"].includes(h.kind);
    let shape = [...h.shape];
    let squeeze = false;
    if ((isDiff || isPerImageY) && numeric && shape.length === 4 && shape[3] === 1) {
      squeeze = true;
      shape = shape.slice(0, 3);
    }
    const logical = [...shape];
    const legacy = isDiff && numeric && shape.length === 3 && detectLegacyLayout(shape, n) !== null;
    const swap = numeric && h.bigEndian && componentSize(h) > 1;
    let cast: "none" | "f8-f4" | "c16-c8" | "counts-sqrt" = "none";
    if (isDiff && numeric && (h.kind === "i" || h.kind === "u")) cast = "counts-sqrt";
    else if (isDiff && numeric && h.kind === "f" && h.itemsize === 8) cast = "f8-f4";
    else if (COMPLEX_KEYS.has(m.key) && numeric && h.kind === "c" && h.itemsize === 16) cast = "c16-c8";
    // Fortran order is converted for the keys the rule names, and for any member rewritten anyway.
    const fortran = numeric && h.fortranOrder && (FORTRAN_KEYS.has(m.key) || squeeze || legacy || swap || cast !== "none");
    if (!squeeze && !legacy && !fortran && !swap && cast === "none") {
      jobs.push({ kind: "raw", outKey, source: m });
      continue;
    }
    let perm: number[] | null = null;
    let storedShape = [...shape];
    if (fortran) {
      // Fortran data of shape S is C-order data of shape reversed(S); a squeezed size-1 axis
      // does not move any byte, so the squeezed shape is reversed.
      storedShape = [...shape].reverse();
      perm = storedShape.map((_, i) => storedShape.length - 1 - i);
    }
    if (legacy) {
      const p = [2, 0, 1];
      const base = perm;
      perm = base ? p.map((k) => base[k]!) : p;
      shape = p.map((k) => logical[k]!);
      newM = shape[0]!;
    }
    const k = outKey;
    if (squeeze)
      remedies.push({
        rule: isDiff ? "data001/diffraction-rank" : "data001/y-patches",
        key: k,
        action: "squeeze",
        detail: `${shapeText(h.shape)} -> ${shapeText(h.shape.slice(0, 3))}`,
      });
    if (legacy)
      remedies.push({
        rule: "data001/legacy-layout",
        key: k,
        action: "transpose-legacy",
        detail: `(H, W, M) ${shapeText(logical)} -> (M, H, W) ${shapeText(shape)}`,
      });
    if (fortran) remedies.push({ rule: "npz/fortran-order", key: k, action: "to-c-order", detail: "Fortran order -> C order" });
    if (swap) remedies.push({ rule: "npz/byte-order", key: k, action: "to-native-endian", detail: `${h.descr} -> little-endian` });
    if (cast === "counts-sqrt")
      remedies.push({ rule: "data001/diffraction-dtype", key: k, action: "counts-to-amplitude", detail: `${h.dtypeName} counts -> float32 sqrt(counts)` });
    if (cast === "f8-f4") remedies.push({ rule: "data001/diffraction-precision", key: k, action: "to-float32", detail: "float64 -> float32" });
    if (cast === "c16-c8") remedies.push({ rule: "data001/complex-precision", key: k, action: "to-complex64", detail: "complex128 -> complex64" });
    const outDescr =
      cast === "f8-f4" || cast === "counts-sqrt" ? "<f4" : cast === "c16-c8" ? "<c8" : h.itemsize === 1 || h.kind === "b" ? h.descr : "<" + h.descr.slice(1);
    jobs.push({ kind: "transform", outKey, source: m, header: h, outDescr, outShape: shape, storedShape, perm, swap, cast });
  }

  for (const [start, src] of [
    ["xcoords_start", "xcoords"],
    ["ycoords_start", "ycoords"],
  ] as const) {
    if (has(start) || !hdr(src)) continue;
    const srcJob = jobs.find((j) => j.kind !== "metadata" && j.source.key === src);
    if (!srcJob || srcJob.kind === "metadata") continue;
    remedies.push({ rule: "data001/coords-start", key: start, action: "copy-coords", detail: `${start} = copy of ${src}` });
    jobs.push({ ...srcJob, outKey: start });
  }

  // STORED members the reader cannot map: the writer aligns every STORED member (zipalign style).
  for (const v of report.violations) {
    if (v.rule === "npz/alignment" && v.key) remedies.push({ rule: "npz/alignment", key: v.key, action: "align", detail: "array data aligned to 64 bytes" });
  }

  // Every violation no remedy answers.
  const outName = (key: string | null) => (rename && key === "diff3d" ? "diffraction" : key);
  const answered = (rule: string, key: string | null) => remedies.some((r) => r.rule === rule && (key === null || outName(r.key) === outName(key)));
  const unfixed: Unfixed[] = [];
  for (const v of report.violations) {
    if (v.rule === "npz/storage" || v.rule === "data001/metadata-encoding") continue; // descriptive
    let ok = answered(v.rule, v.key);
    // A legacy stack fails coords-length only because its first axis is H: the transpose answers it.
    if (v.rule === "data001/coords-length" && newM !== null && v.key) {
      const c = hdr(v.key);
      if (c && c.shape.length >= 1 && c.shape[0] === newM) ok = true;
    }
    if (v.rule === "data001/required-keys") {
      ok = rename && /\['diffraction'\]/.test(v.message.split(". Expected")[0] ?? "");
    }
    if (ok) continue;
    const metadataRefused = v.rule === "npz/pickle-refused" && v.key === "_metadata" && input.metadataRefusal;
    unfixed.push({
      rule: v.rule,
      key: v.key,
      severity: v.severity,
      message: v.message,
      reason: metadataRefused
        ? `npzguard never executes pickles and decodes only dicts, lists and tuples of str, int, float, bool and None: ${input.metadataRefusal}`
        : (REASONS[v.rule] ?? "no automatic remedy for this rule"),
      blocking: v.severity === "error",
    });
  }
  let metadataNote: string | undefined;
  if (input.metadataRefusal)
    metadataNote = `_metadata is a pickle npzguard does not decode (${input.metadataRefusal}): copied unchanged, without a transformation record`;
  else if (input.metadata === null) metadataNote = "_metadata is present but is not a readable JSON object: copied unchanged, without a transformation record";
  else if (input.metadata === undefined && remedies.length > 0) {
    jobs.push({ kind: "metadata", outKey: "_metadata", source: null, text: '{"schema_version": "1.0.0"}' });
  }
  return {
    input: report.path,
    profile: report.profile,
    remedies,
    unfixed,
    blocked: unfixed.some((u) => u.blocking),
    jobs,
    ...(metadataNote ? { metadataNote } : {}),
  };
}
