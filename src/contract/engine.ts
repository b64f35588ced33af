// The DATA-001 rule engine (data-001.md §4–§7): pure evaluation over facts gathered by check.ts
// (member list, NPY headers, member errors, scan results, `_metadata` strings). No I/O here, so
// the engine is deterministic and unit-testable.
import type { ArrayStats, MemberInfo, NpyHeaderInfo, ObjectStrings } from "../types.js";
import type { Draft } from "./draft.js";
import { severityOf } from "./draft.js";
import { detectLegacyLayout } from "./layout.js";
import { evaluateMetadata } from "./metadata.js";
import {
  BYTES_ATTRIBUTE_ERROR,
  INDEX_ERROR,
  REQUIRED_NPZ_KEYS,
  complexDtypeMessage,
  diffractionDtypeMessage,
  floatDtypeMessage,
  lengthMessage,
  missingKeysMessage,
  neighborRequiredMessage,
  neighborTooSmallMessage,
  numpyDtypeName,
  pyShape,
  referenceVerdict,
  failedVerdict,
  type RefValue,
} from "./reference.js";
import { HINTS, RULES } from "./rules.js";
import { pyFloatRepr } from "../python/repr.js";
import type { CheckOptions, Profile, ReferenceVerdict, Severity, Violation } from "./types.js";

export interface CodedError {
  code: string;
  message: string;
}

/** Everything check.ts learned about one member. */
export interface MemberFacts {
  info: MemberInfo;
  /** Set when the member was read in full (scan). */
  scanned: boolean;
  crcVerified: boolean;
  /** Error found by the scan (CRC mismatch, truncation, ...). */
  scanError?: CodedError | null;
  stats: ArrayStats | null;
  /** For |O, <U, |S members read as strings (always for `_metadata`, and for every |O member). */
  strings?: ObjectStrings | null;
  stringsError?: CodedError | null;
}

export interface FileFacts {
  path: string;
  members: MemberFacts[];
}

export interface EngineResult {
  violations: Violation[];
  referenceVerdict: ReferenceVerdict;
  notEvaluated: string[];
  metadata?: unknown;
}

/** Keys of the §4 inventory. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  "diffraction", "diff3d", "probeGuess", "objectGuess", "xcoords", "ycoords", "xcoords_start",
  "ycoords_start", "scan_index", "Y", "ground_truth_patches", "coords_start_offsets",
  "coords_start_relative", "filenames", "nn_indices", "label", "_metadata", "_shuffle_applied",
  "_shuffle_seed",
]);

const CONTAINER_KEYS = [
  "X", "Y_I", "Y_phi", "norm_Y_I", "YY_full", "coords_nominal", "coords_true", "nn_indices",
  "global_offsets", "local_offsets", "probe",
];

const TF_READS = new Set(["xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "diffraction", "probeGuess", "objectGuess", "Y"]);
const TORCH_READS = new Set(["xcoords", "ycoords", "diffraction", "diff3d", "probeGuess", "objectGuess", "scan_index"]);

const PATCH_SIZES = new Set([64, 128, 256]);

/** Member error codes NumPy loads anyway (they are findings, not load failures). */
const LOADABLE_CODES = new Set(["ERR_NPY_TRAILING_BYTES", "ERR_NPY_UNSUPPORTED_DTYPE", "ERR_NPY_BAD_MAGIC", "ERR_NPY_NON_NATIVE_ENDIAN", "ERR_NPY_MISALIGNED"]);

/** §6.1 mapping from a reader error code to the rule it violates. */
export function ruleForCode(code: string, memberLevel = true): string {
  switch (code) {
    case "ERR_NPZ_DUPLICATE_MEMBER":
    case "ERR_NPZ_BAD_NAME":
      return "npz/member-names";
    case "ERR_NPZ_ENCRYPTED":
    case "ERR_NPZ_UNSUPPORTED_METHOD":
      return "npz/method";
    case "ERR_NPZ_CRC_MISMATCH":
    case "ERR_NPZ_SIZE_MISMATCH":
    case "ERR_NPZ_OVERLAP":
      return "npz/integrity";
    case "ERR_NPY_TRAILING_BYTES":
      return "npz/trailing-bytes";
    case "ERR_NPY_PICKLE_REFUSED":
      return "npz/pickle-refused";
    case "ERR_NPY_UNSUPPORTED_DTYPE":
      return "npz/unsupported-dtype";
    case "ERR_NPY_BAD_MAGIC":
      return memberLevel ? "npz/non-npy-member" : "npz/readable";
    case "ERR_NPY_BAD_VERSION":
    case "ERR_NPY_BAD_HEADER":
    case "ERR_NPY_TRUNCATED":
    case "ERR_NPY_LENGTH_OVERFLOW":
    case "ERR_NPY_HEADER_TOO_LARGE":
      return memberLevel ? "npz/member-format" : "npz/readable";
    default:
      return "npz/readable";
  }
}

/** Whether NumPy's loader (`dict(np.load(...))`) would fail on this member error. */
export function isLoadFailure(code: string): boolean {
  return !LOADABLE_CODES.has(code);
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Stable sort: errors first, then warnings, then info. */
export function sortViolations(v: Violation[]): Violation[] {
  return v
    .map((x, i) => [x, i] as const)
    .sort((a, b) => SEVERITY_RANK[a[0].severity] - SEVERITY_RANK[b[0].severity] || a[1] - b[1])
    .map(([x]) => x);
}

/** Turns drafts into violations for a profile (drops "—"), applying `strict`. */
export function resolveDrafts(drafts: Draft[], profile: Profile, strict = false): Violation[] {
  const out: Violation[] = [];
  for (const d of drafts) {
    let sev = severityOf(d, profile);
    if (sev === null) continue;
    if (strict && sev === "warning") sev = "error";
    const rule = RULES[d.rule];
    out.push({
      rule: d.rule,
      severity: sev,
      key: d.key,
      message: d.message,
      finding: rule?.finding ?? null,
      ...(d.hint ? { hint: d.hint } : {}),
    });
  }
  return sortViolations(out);
}

/** Violations for a file whose container could not be opened (§6.1). */
export function containerErrorResult(err: CodedError, path: string, options: CheckOptions = {}): EngineResult {
  const profile = options.profile ?? "study";
  const draft: Draft = { rule: ruleForCode(err.code, false), key: null, message: `${err.code}: ${err.message}` };
  if (draft.rule === "npz/trailing-bytes" || draft.rule === "npz/unsupported-dtype") draft.severity = "error";
  const drafts = [draft];
  if ((options.role ?? "generic") === "phase-c") drafts.push(...evaluateMetadata({ path, role: "phase-c", strings: null, gridsize: options.gridsize ?? 1 }).drafts.filter((d) => d.rule === "data001/phasec-provenance"));
  return {
    violations: resolveDrafts(drafts, profile, options.strict),
    referenceVerdict: failedVerdict(err.code, err.message),
    notEvaluated: [],
  };
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined) return "None";
  return pyFloatRepr(v);
}

function componentSum(stats: ArrayStats, f: (c: ArrayStats["components"][number]) => number): number {
  return stats.components.reduce((a, c) => a + f(c), 0);
}

function nonFinite(stats: ArrayStats): number {
  // Elements with any non-finite component would double-count for complex; count per component.
  return componentSum(stats, (c) => c.nan + c.posInf + c.negInf);
}

export function evaluate(facts: FileFacts, options: CheckOptions = {}): EngineResult {
  const profile: Profile = options.profile ?? "study";
  const gridsize = options.gridsize ?? 1;
  const nGroups = options.nGroups ?? 512;
  const role = options.role ?? "generic";
  const drafts: Draft[] = [];
  const notEvaluated = new Set<string>();
  const emit = (d: Draft) => drafts.push(d);

  // ---- members, container rules, reference values ----
  const byKey = new Map<string, MemberFacts>();
  const refValues = new Map<string, RefValue>();
  let loadError: CodedError | null = null;
  const stored: string[] = [];
  const deflated: string[] = [];

  for (const m of facts.members) {
    const { info } = m;
    const h = info.header;
    if (!byKey.has(info.key)) byKey.set(info.key, m);
    (info.compression === "stored" ? stored : deflated).push(info.key);

    const errors: CodedError[] = [];
    if (info.error) errors.push(info.error);
    if (m.scanError && m.scanError.code !== info.error?.code) errors.push(m.scanError);
    if (m.stringsError && !errors.some((e) => e.code === m.stringsError?.code)) errors.push(m.stringsError);
    for (const err of errors) {
      const rule = ruleForCode(err.code);
      if (isLoadFailure(err.code) && !loadError) loadError = { code: err.code, message: err.message.includes(info.name) || err.message.includes(`'${info.key}'`) ? err.message : `${err.message} (member ${info.name})` };
      if (rule === "npz/non-npy-member") continue; // handled below
      const d: Draft = { rule, key: info.key, message: `${err.code}: ${err.message}` };
      if (rule === "npz/trailing-bytes" && options.strict) d.severity = "error";
      emit(d);
    }

    if (!info.npyMagic || !h) {
      if (!info.npyMagic || info.error?.code === "ERR_NPY_BAD_MAGIC") {
        refValues.set(info.key, { kind: "bytes" });
        const required = (REQUIRED_NPZ_KEYS as readonly string[]).includes(info.key);
        emit({
          rule: "npz/non-npy-member",
          key: info.key,
          message: required
            ? `required key '${info.key}' is not an NPY array (NumPy returns bytes): AttributeError: ${BYTES_ATTRIBUTE_ERROR}`
            : `member '${info.name}' is not an NPY array (no NPY magic)`,
          ...(required ? { severity: "error" as const } : {}),
        });
      }
      continue;
    }
    refValues.set(info.key, {
      kind: "array",
      dtypeName: h.dtypeName || numpyDtypeName(h.descr),
      dtypeKind: h.kind,
      shape: h.shape,
    });
    if (!info.name.endsWith(".npy")) {
      emit({ rule: "npz/non-npy-member", key: info.key, message: `member '${info.name}' has no .npy suffix` });
    }
    if (h.trailingBytes > 0 && info.error?.code !== "ERR_NPY_TRAILING_BYTES") {
      emit({
        rule: "npz/trailing-bytes",
        key: info.key,
        message: `${h.trailingBytes} bytes follow the array data of '${info.key}' (NumPy ignores them)`,
        ...(options.strict ? { severity: "error" as const } : {}),
      });
    }
    if (h.compression === "stored" && h.arrayOffset !== null && h.itemsize > 0 && h.arrayOffset % h.itemsize !== 0) {
      emit({ rule: "npz/alignment", key: info.key, message: `array data of '${info.key}' at offset ${h.arrayOffset} is not a multiple of the itemsize ${h.itemsize} (copied on read)` });
    }
    if (h.bigEndian) emit({ rule: "npz/byte-order", key: info.key, message: `'${info.key}' is big-endian (${h.descr}); readers byte-swap a copy` });
    if (h.fortranOrder && KNOWN_KEYS.has(info.key)) {
      emit({ rule: "npz/fortran-order", key: info.key, message: `'${info.key}' is stored in Fortran order` });
    }
    if (!h.supported && h.kind !== "O" && !KNOWN_KEYS.has(info.key) && info.error?.code !== "ERR_NPY_UNSUPPORTED_DTYPE") {
      emit({ rule: "npz/unsupported-dtype", key: info.key, message: `'${info.key}' has dtype ${h.dtypeName || h.descr} that npzguard does not read${h.unsupportedReason ? ` (${h.unsupportedReason})` : ""}` });
    }
    if (h.kind === "O" && info.key !== "_metadata" && m.strings) {
      const t = TF_READS.has(info.key);
      const p = TORCH_READS.has(info.key);
      emit({
        rule: "npz/pickled-member",
        key: info.key,
        message: `'${info.key}' is a pickled object array${t || p ? " (Object arrays cannot be loaded when allow_pickle=False)" : ""}`,
        hint: HINTS.pickled,
        severity: { tensorflow: t ? "error" : "warning", pytorch: p ? "error" : "warning" },
      });
    }
  }

  if (stored.length + deflated.length > 0) {
    const parts: string[] = [];
    if (stored.length) parts.push(`${stored.length} STORED (mappable)`);
    if (deflated.length) parts.push(`${deflated.length} DEFLATED: ${deflated.join(", ")}`);
    emit({ rule: "npz/storage", key: null, message: parts.join("; ") });
  }

  const hdr = (key: string): NpyHeaderInfo | null => {
    const m = byKey.get(key);
    return m && m.info.npyMagic && m.info.header ? m.info.header : null;
  };
  const has = (key: string) => byKey.has(key);

  // ---- §6.2 keys ----
  const missing = REQUIRED_NPZ_KEYS.filter((k) => !has(k));
  if (missing.length > 0) {
    const hints: string[] = [];
    if (has("diff3d") && missing.includes("diffraction")) hints.push(HINTS.diff3d);
    if (CONTAINER_KEYS.filter(has).length >= 3) hints.push(HINTS.container);
    emit({
      rule: "data001/required-keys",
      key: null,
      message: missingKeysMessage(missing),
      ...(hints.length ? { hint: hints.join("; ") } : {}),
    });
  }
  if (has("diff3d") && has("diffraction")) {
    const a = byKey.get("diff3d")?.info;
    const b = byKey.get("diffraction")?.info;
    const identical = !!a && !!b && a.crc32 === b.crc32 && a.uncompressedSize === b.uncompressedSize;
    emit({
      rule: "data001/diffraction-key-conflict",
      key: "diff3d",
      message:
        "`diff3d` and `diffraction` both present: TF load_data trains on `diff3d`, the validator and torch read `diffraction`" +
        (identical ? " (byte-identical members)" : ""),
      ...(identical ? { severity: { tensorflow: "warning" as const } } : {}),
    });
  }
  if (!has("xcoords_start") || !has("ycoords_start")) {
    emit({
      rule: "data001/coords-start",
      key: !has("xcoords_start") ? "xcoords_start" : "ycoords_start",
      message: "TF load_data indexes xcoords_start/ycoords_start unconditionally (KeyError)",
      hint: HINTS.coordsStart,
    });
  }
  for (const m of facts.members) {
    const k = m.info.key;
    if (!KNOWN_KEYS.has(k) && byKey.get(k) === m) emit({ rule: "data001/unknown-keys", key: k, message: `key '${k}' is not part of DATA-001` });
  }

  // ---- §6.3 dtypes ----
  const dtName = (h: NpyHeaderInfo) => h.dtypeName || numpyDtypeName(h.descr);
  const diffH = hdr("diffraction");
  if (diffH) {
    if (diffH.kind !== "f") {
      emit({
        rule: "data001/diffraction-dtype",
        key: "diffraction",
        message: diffractionDtypeMessage(dtName(diffH)),
        ...(diffH.kind === "u" || diffH.kind === "i" ? { hint: HINTS.uint16 } : {}),
      });
    } else if (diffH.itemsize !== 4) {
      emit({ rule: "data001/diffraction-precision", key: "diffraction", message: `diffraction is ${dtName(diffH)} (canonical float32; torch casts with a full copy)` });
    }
  }
  const d3H = hdr("diff3d");
  if (d3H && !diffH && d3H.kind !== "f") {
    emit({ rule: "data001/diffraction-dtype", key: "diff3d", message: diffractionDtypeMessage(dtName(d3H)).replace(/^diffraction/, "diff3d"), ...(d3H.kind === "u" || d3H.kind === "i" ? { hint: HINTS.uint16 } : {}), severity: "warning" });
  }
  for (const [key, rule] of [["objectGuess", "data001/object-dtype"], ["probeGuess", "data001/probe-dtype"]] as const) {
    const h = hdr(key);
    if (!h) continue;
    if (h.kind !== "c") emit({ rule, key, message: complexDtypeMessage(key, dtName(h)) });
    else if (h.itemsize > 8) emit({ rule: "data001/complex-precision", key, message: `${key} is ${dtName(h)} (canonical complex64; torch casts)` });
  }
  for (const key of ["xcoords", "ycoords"]) {
    const h = hdr(key);
    if (!h) continue;
    if (h.kind !== "f") emit({ rule: "data001/coords-dtype", key, message: floatDtypeMessage(key, dtName(h)) });
    else if (h.itemsize < 8) emit({ rule: "data001/coords-precision", key, message: `${key} is ${dtName(h)} (documented float64; both backends train)` });
  }
  {
    const si = hdr("scan_index");
    if (si && si.kind !== "i" && si.kind !== "u") emit({ rule: "data001/aux-dtypes", key: "scan_index", message: `scan_index should be integer, got dtype=${dtName(si)}` });
    for (const key of ["Y", "ground_truth_patches"]) {
      const h = hdr(key);
      if (h && h.kind !== "c") emit({ rule: "data001/aux-dtypes", key, message: `${key} should be complex, got dtype=${dtName(h)}` });
    }
    for (const key of ["xcoords_start", "ycoords_start"]) {
      const h = hdr(key);
      if (h && h.kind !== "f") emit({ rule: "data001/aux-dtypes", key, message: `${key} must be float dtype, got dtype=${dtName(h)}`, severity: { tensorflow: "error" } });
    }
  }

  // ---- §6.4 shapes ----
  const dKey = diffH ? "diffraction" : d3H ? "diff3d" : null;
  const dH = diffH ?? d3H;
  const xH = hdr("xcoords");
  const yH = hdr("ycoords");
  if (diffH && refValues.get("diffraction")?.kind === "array") {
    const dShape = diffH.shape;
    if (dShape.length === 0) {
      emit({ rule: "data001/coords-length", key: "diffraction", message: `diffraction is 0-d: diffraction.shape[0] raises IndexError: ${INDEX_ERROR}` });
    } else {
      const n = dShape[0] as number;
      for (const [key, h] of [["xcoords", xH], ["ycoords", yH]] as const) {
        if (!h) continue;
        if (h.shape.length === 0) {
          emit({ rule: "data001/coords-length", key, message: `${key} is 0-d: ${key}.shape[0] raises IndexError: ${INDEX_ERROR}` });
        } else if (h.shape[0] !== n) {
          const a = h.shape[0] as number;
          emit({ rule: "data001/coords-length", key, message: lengthMessage(key, a, n), hint: a < n ? HINTS.fewerPositions : HINTS.morePositions });
        }
      }
    }
  }
  if (gridsize > 1) {
    const k = options.neighborCount;
    if (k === undefined || k === null) emit({ rule: "data001/oversampling-k", key: null, message: neighborRequiredMessage(gridsize) });
    else if (k < gridsize * gridsize) emit({ rule: "data001/oversampling-k", key: null, message: neighborTooSmallMessage(k, gridsize) });
  }

  const n = xH && xH.shape.length === 1 ? (xH.shape[0] as number) : null;
  let M: number | null = null;
  let frame: [number, number] | null = null;
  if (dH && dKey) {
    let s = dH.shape;
    if (s.length === 4 && s[3] === 1) {
      emit({
        rule: "data001/diffraction-rank",
        key: dKey,
        message: `${dKey} shape ${pyShape(s)} has a trailing singleton axis (squeezed by load_data)`,
        severity: { reference: "info", study: "info", tensorflow: "warning", pytorch: "error" },
      });
      s = s.slice(0, 3);
    } else if (s.length !== 3) {
      emit({ rule: "data001/diffraction-rank", key: dKey, message: `${dKey} must be rank 3 (M, H, W); got shape ${pyShape(s)}` });
    }
    if (s.length === 3) {
      const legacy = detectLegacyLayout(s, n);
      const [a, b, c] = s as [number, number, number];
      if (legacy) {
        emit({ rule: "data001/legacy-layout", key: dKey, message: legacy.message, hint: HINTS.legacy });
        M = c;
        frame = [a, b];
      } else {
        M = a;
        frame = [b, c];
      }
      const [H, W] = frame;
      if (H !== W) emit({ rule: "data001/frame-square", key: dKey, message: `frames are ${H}x${W}, not square (RawData asserts shape[1] == shape[2])` });
      if (!PATCH_SIZES.has(H)) emit({ rule: "data001/patch-size", key: dKey, message: `frame size N=${H} is not one of 64, 128, 256` });
    }
  }

  const pH = hdr("probeGuess");
  if (pH && frame) {
    const [H, W] = frame;
    const p = pH.shape;
    if (!(p.length === 2 && p[0] === H && p[1] === W)) {
      const near = (p.length === 3 && p[0] === H && p[1] === W && p[2] === 1) || (p.length === 3 && p[1] === H && p[2] === W);
      emit({
        rule: "data001/probe-shape",
        key: "probeGuess",
        message: `probeGuess shape ${pyShape(p)} must equal the frame shape (${H}, ${W})`,
        ...(near ? { severity: { pytorch: "warning" as const } } : {}),
      });
    }
  } else if (pH && pH.shape.length !== 2) {
    emit({ rule: "data001/probe-shape", key: "probeGuess", message: `probeGuess must be 2D; got shape ${pyShape(pH.shape)}` });
  }
  const oH = hdr("objectGuess");
  if (oH) {
    const o = oH.shape;
    if (o.length !== 2) emit({ rule: "data001/object-shape", key: "objectGuess", message: `objectGuess must be 2D; got shape ${pyShape(o)}` });
    else if (frame && ((o[0] as number) < frame[0] || (o[1] as number) < frame[1])) {
      emit({ rule: "data001/object-shape", key: "objectGuess", message: `objectGuess ${pyShape(o)} is smaller than the frame (${frame[0]}, ${frame[1]})` });
    }
  }
  {
    const coordKeys = ["xcoords", "ycoords", "xcoords_start", "ycoords_start"].filter((k) => hdr(k));
    const shapes = coordKeys.map((k) => (hdr(k) as NpyHeaderInfo).shape);
    for (let i = 0; i < coordKeys.length; i++) {
      const s = shapes[i] as number[];
      if (s.length !== 1) emit({ rule: "data001/coords-shape", key: coordKeys[i] as string, message: `${coordKeys[i]} must be 1-D; got shape ${pyShape(s)}` });
    }
    const first = shapes[0];
    if (first && shapes.some((s) => pyShape(s) !== pyShape(first))) {
      emit({ rule: "data001/coords-shape", key: null, message: "Coordinate arrays must have matching shapes." });
    }
  }
  const yPH = hdr("Y");
  let ySingleton = false;
  if (yPH && M !== null) {
    const s = yPH.shape;
    const perImage = (s.length === 3 && s[0] === M) || (s.length === 4 && s[0] === M && s[3] === 1);
    ySingleton = s.length === 4 && s[0] === 1 && s[3] === 1;
    if (ySingleton && M !== 1) {
      emit({
        rule: "data001/y-patches",
        key: "Y",
        severity: "info",
        message: `Y ${pyShape(s)} is a singleton: ignored by TF load_data (Ignoring NPZ 'Y' with incompatible shape ...); patches are rebuilt from objectGuess`,
      });
    } else if (!perImage) {
      emit({ rule: "data001/y-patches", key: "Y", message: `Y shape ${pyShape(s)} is neither per-image (${M}, N, N[, 1]) nor a singleton (1, N, N, 1)` });
    }
  }
  if (M !== null && M > 1) {
    const globals = ["objectGuess", "probeGuess", "coords_start_offsets", "coords_start_relative", ...(ySingleton ? ["Y"] : [])];
    for (const key of globals) {
      const h = hdr(key);
      if (h && h.shape.length > 0 && h.shape[0] === M) {
        emit({ rule: "data001/global-first-axis", key, message: `global array ${key} ${pyShape(h.shape)} has first dimension == M=${M}; split/filter tools would slice it per scan` });
      }
    }
    const si = hdr("scan_index");
    if (si && !(si.shape.length === 1 && si.shape[0] === M)) {
      emit({ rule: "data001/scan-index", key: "scan_index", message: `scan_index shape ${pyShape(si.shape)} is not (${M},)` });
    }
  }
  if (M !== null) {
    const C = gridsize * gridsize;
    if (M < C) {
      emit({ rule: "data001/grouping-capacity", key: null, message: `Dataset has only ${M} points but ${C} coordinates per group requested.` });
    } else if (C > 1 && nGroups > M && !options.enableOversampling) {
      emit({ rule: "data001/grouping-capacity", key: null, message: `Requesting ${nGroups} groups but only ${M} points available (gridsize=${gridsize}, C=${C}). K choose C oversampling is required but not enabled.` });
    } else if (C === 1 && nGroups > M) {
      emit({ rule: "data001/grouping-capacity", key: null, severity: "info", message: `Requested ${nGroups} groups but only ${M} points available. Using all points as seeds.` });
    }
  }
  if (options.supervised) {
    const lH = hdr("label");
    const canon = M !== null && frame ? [M, frame[0], frame[1]] : dH?.shape ?? null;
    if (!has("label")) emit({ rule: "data001/label", key: "label", message: "supervised training requires a 'label' array (DATA-SUP-001)" });
    else if (lH && canon && pyShape(lH.shape) !== pyShape(canon)) {
      emit({ rule: "data001/label", key: "label", message: `label shape mismatch. Expected ${pyShape(canon)}, got ${pyShape(lH.shape)}` });
    }
  }

  // ---- §6.6 values ----
  const statsOf = (key: string): ArrayStats | null | undefined => {
    const m = byKey.get(key);
    if (!m || !hdr(key)) return undefined; // absent: rule not applicable
    return m.stats;
  };
  const skip = (...rules: string[]) => rules.forEach((r) => notEvaluated.add(r));
  {
    const st = statsOf("diffraction");
    const rulesD = ["data001/diffraction-finite", "data001/diffraction-nonnegative", "data001/diffraction-nonzero", "data001/amplitude-scale", "data001/amplitude-ratio"];
    if (st === null) skip(...rulesD);
    else if (st) {
      const c = st.components[0];
      const bad = nonFinite(st);
      if (bad > 0) emit({ rule: "data001/diffraction-finite", key: "diffraction", message: `diffraction contains ${bad} non-finite values` });
      if (c && c.negative > 0) emit({ rule: "data001/diffraction-nonnegative", key: "diffraction", message: `amplitude must be non-negative; min=${fmt(c.min)}`, hint: HINTS.amplitude });
      if (c && st.elements > 0 && c.zero === st.elements) emit({ rule: "data001/diffraction-nonzero", key: "diffraction", message: "diffraction amplitudes are all zero" });
      if (c && c.max !== null && c.max >= 10) emit({ rule: "data001/amplitude-scale", key: "diffraction", message: `diffraction max=${fmt(c.max)} appears unnormalized (or intensity, not amplitude)`, hint: HINTS.amplitude });
      if (c && c.max !== null && c.finite > 0) {
        const mean = c.sum / c.finite;
        if (mean > 0 && c.max / mean > 100) emit({ rule: "data001/amplitude-ratio", key: "diffraction", message: `diffraction max/mean=${(c.max / mean).toFixed(1)} > 100: may be intensity instead of amplitude` });
      }
    }
  }
  {
    const st = statsOf("probeGuess");
    if (st === null) skip("data001/probe-values");
    else if (st) {
      if (nonFinite(st) > 0) emit({ rule: "data001/probe-values", key: "probeGuess", message: "probe real and imaginary components must be finite." });
      else {
        const energy = st.components.length === 2 ? st.sumAbs2 : componentSum(st, (c) => c.sumSq);
        if (energy === 0) emit({ rule: "data001/probe-values", key: "probeGuess", message: "probe must have nonzero energy" });
      }
    }
  }
  {
    const st = statsOf("objectGuess");
    if (st === null) skip("data001/object-values");
    else if (st && nonFinite(st) > 0) emit({ rule: "data001/object-values", key: "objectGuess", message: `objectGuess contains ${nonFinite(st)} non-finite values` });
  }
  {
    const objShape = oH && oH.shape.length === 2 ? (oH.shape as [number, number]) : null;
    const half = frame ? frame[0] / 2 : null;
    for (const [key, axis] of [["xcoords", 1], ["ycoords", 0]] as const) {
      const st = statsOf(key);
      if (st === null) { skip("data001/coords-values"); continue; }
      if (!st) continue;
      const c = st.components[0];
      const bad = nonFinite(st);
      if (bad > 0) {
        emit({ rule: "data001/coords-values", key, message: `${key} contains ${bad} non-finite values` });
      }
      if (!c || c.min === null || c.max === null || !objShape) continue;
      const size = objShape[axis];
      const axisName = axis === 1 ? "Wo" : "Ho";
      if (c.min < 0 || c.max > size) {
        emit({ rule: "data001/coords-values", key, severity: "warning", message: `${key} range [${fmt(c.min)}, ${fmt(c.max)}] lies outside the object [0, ${size}] (${axisName})` });
      } else if (half !== null && (c.min < half || c.max > size - half)) {
        emit({ rule: "data001/coords-values", key, severity: "info", message: `${key} range [${fmt(c.min)}, ${fmt(c.max)}] extends past [${half}, ${size - half}] (frames would leave the object)` });
      }
    }
  }
  for (const m of facts.members) {
    const h = m.info.header;
    if (!h || h.kind !== "b" || byKey.get(m.info.key) !== m) continue;
    if (m.stats === null) skip("data001/bool-values");
    else if (m.stats.badBool > 0) emit({ rule: "data001/bool-values", key: m.info.key, message: `${m.info.key} has ${m.stats.badBool} bool bytes other than 0/1` });
  }

  // ---- §6.7 metadata ----
  let metadata: unknown = undefined;
  const metaM = byKey.get("_metadata");
  if (metaM || role === "phase-c" || role === "phase-d") {
    let unusable: string | undefined;
    const mh = metaM?.info.header;
    if (metaM && !metaM.strings) {
      if (mh && !["O", "U", "S"].includes(mh.kind)) unusable = `_metadata has dtype ${dtName(mh)}; expected a 0-d |O, <U or |S array (treated as no metadata)`;
      else if (!metaM.stringsError) unusable = "_metadata could not be read as text (treated as no metadata)";
    }
    const res = evaluateMetadata({
      path: facts.path,
      role,
      strings: metaM?.strings ?? null,
      ...(unusable ? { unusable } : {}),
      ...(options.dose !== undefined ? { dose: options.dose } : {}),
      frame: frame ? frame[0] : null,
      gridsize,
    });
    drafts.push(...res.drafts);
    if (res.object) metadata = res.object;
  }

  const verdict = referenceVerdict({
    values: refValues,
    loadError,
    gridsize,
    neighborCount: options.neighborCount ?? null,
  });
  return {
    violations: resolveDrafts(drafts, profile, options.strict),
    referenceVerdict: verdict,
    notEvaluated: [...notEvaluated],
    ...(metadata !== undefined ? { metadata } : {}),
  };
}
