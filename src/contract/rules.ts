// The DATA-001 rule catalogue as data (data-001.md §6): stable ids, the finding each rule
// belongs to, and the base severity per profile. Conditions live in engine.ts; a few rules pick a
// different severity per case (documented at the emitting site and in `note`).
import type { Profile, Severity } from "./types.js";

/** Severity per profile; null = not evaluated in that profile (the spec's "—"). */
export type SeverityTable = Record<Profile, Severity | null>;

export interface RuleDef {
  id: string;
  /** Primary PtychoPINN finding id, or null. */
  finding: string | null;
  /** All finding ids named by the spec for this rule. */
  findings: string[];
  severity: SeverityTable;
  /** Rule reads array values (needs a scan, §6.6). */
  value: boolean;
  title: string;
  note?: string;
}

const E = "error" as const;
const W = "warning" as const;
const I = "info" as const;
type Sev = Severity | null;

/** ref = the reference column (S except §6.6 parentheses), then S, T, P. */
function rule<const Id extends string>(
  id: Id,
  findings: string[],
  [ref, s, t, p]: [Sev, Sev, Sev, Sev],
  title: string,
  extra: { value?: boolean; note?: string } = {},
): RuleDef & { id: Id } {
  return {
    id,
    finding: findings[0] ?? null,
    findings,
    severity: { reference: ref, study: s, tensorflow: t, pytorch: p },
    value: extra.value ?? false,
    title,
    ...(extra.note ? { note: extra.note } : {}),
  };
}

const D1 = ["DATA-001"];

const LIST = [
  // §6.1 container
  rule("npz/readable", D1, [E, E, E, E], "archive or .npy parses"),
  rule("npz/member-format", D1, [E, E, E, E], "NPY version/header/size valid"),
  rule("npz/non-npy-member", D1, [W, W, W, W], "every member is an .npy array", {
    note: "E in every profile when the member is a required key (§5.2 AttributeError)",
  }),
  rule("npz/member-names", [], [E, E, E, E], "member names unique and safe"),
  rule("npz/method", [], [E, E, E, E], "STORED/DEFLATED, not encrypted"),
  rule("npz/integrity", [], [E, E, E, E], "CRC-32, sizes, no overlapping entries"),
  rule("npz/trailing-bytes", [], [I, I, W, W], "no bytes after the array data", { note: "E with strict" }),
  rule("npz/storage", [], [I, I, I, I], "STORED (mappable) vs DEFLATED"),
  rule("npz/alignment", [], [I, I, I, I], "array data aligned to the itemsize"),
  rule("npz/byte-order", [], [I, I, W, W], "little-endian members"),
  rule("npz/fortran-order", [], [I, I, W, W], "C-order contract keys"),
  rule("npz/unsupported-dtype", [], [W, W, W, W], "dtypes npzguard can read"),
  rule("npz/pickled-member", ["DATA-002"], [W, W, W, W], "no pickled arrays besides _metadata", {
    note: "T/P: E when the key is read by that loader (allow_pickle=False)",
  }),
  rule("npz/pickle-refused", ["DATA-002"], [E, E, E, E], "pickles are recognised object arrays of str/None"),
  // §6.2 keys
  rule("data001/required-keys", D1, [E, E, E, E], "required keys present"),
  rule("data001/diffraction-key-conflict", D1, [W, W, E, W], "not both diff3d and diffraction", {
    note: "T: W when both members are byte-identical (CRC-32, size)",
  }),
  rule("data001/coords-start", D1, [W, W, E, I], "xcoords_start/ycoords_start present"),
  rule("data001/label", ["DATA-SUP-001"], [null, null, null, E], "supervised label present and shaped"),
  rule("data001/unknown-keys", [], [I, I, I, I], "keys known to DATA-001"),
  // §6.3 dtypes
  rule("data001/diffraction-dtype", ["DATA-001", "NORMALIZATION-001"], [E, E, E, E], "diffraction is floating"),
  rule("data001/object-dtype", D1, [E, E, E, E], "objectGuess is complex"),
  rule("data001/probe-dtype", D1, [E, E, E, E], "probeGuess is complex"),
  rule("data001/coords-dtype", D1, [E, E, E, E], "xcoords/ycoords are floating"),
  rule("data001/diffraction-precision", D1, [I, I, W, W], "diffraction is float32"),
  rule("data001/complex-precision", D1, [I, I, W, I], "probe/object are complex64"),
  rule("data001/coords-precision", D1, [I, I, I, I], "coordinates are float64"),
  rule("data001/aux-dtypes", D1, [W, W, W, W], "auxiliary keys have their dtypes", { note: "T: E for *_start" }),
  // §6.4 shapes
  rule("data001/coords-length", ["DATA-001", "TORCH-LOADER-MMAP-SIZING-001"], [E, E, E, E], "one position per pattern"),
  rule("data001/oversampling-k", ["OVERSAMPLING-001"], [E, E, E, E], "neighbor_count >= gridsize²"),
  rule("data001/diffraction-rank", D1, [W, W, E, E], "diffraction is (M, H, W)", {
    note: "rank 4 with trailing 1: S/ref I, T W, P E",
  }),
  rule("data001/legacy-layout", ["FORMAT-001"], [W, W, E, W], "not the legacy (H, W, M) layout"),
  rule("data001/frame-square", D1, [W, W, E, E], "square frames"),
  rule("data001/patch-size", D1, [W, W, E, E], "frame size in {64, 128, 256}"),
  rule("data001/probe-shape", D1, [W, W, E, E], "probe shape equals the frame", {
    note: "P: (H,W,1) or (P,H,W) with matching frame → W",
  }),
  rule("data001/object-shape", D1, [W, W, E, E], "object 2-D and at least the frame"),
  rule("data001/coords-shape", D1, [W, W, E, E], "coordinate arrays 1-D with matching shapes"),
  rule("data001/y-patches", D1, [W, W, W, W], "Y per-image patches", { note: "singleton (1,N,N,1) → I" }),
  rule("data001/global-first-axis", D1, [W, W, W, W], "global arrays do not have first axis M"),
  rule("data001/scan-index", D1, [W, W, W, W], "scan_index is (M,)"),
  rule("data001/grouping-capacity", ["OVERSAMPLING-001"], [W, W, E, E], "enough points for the requested groups", {
    note: "C = 1 and nGroups > M → I",
  }),
  // §6.6 values (reference column = parentheses)
  rule("data001/diffraction-finite", D1, [W, E, E, E], "diffraction finite", { value: true }),
  rule("data001/diffraction-nonnegative", D1, [W, E, E, E], "amplitudes non-negative", { value: true }),
  rule("data001/diffraction-nonzero", D1, [W, E, E, E], "amplitudes not all zero", { value: true }),
  rule("data001/amplitude-scale", ["NORMALIZATION-001"], [W, W, W, W], "amplitudes normalized (max < 10)", { value: true }),
  rule("data001/amplitude-ratio", ["NORMALIZATION-001"], [I, I, I, I], "max/mean <= 100", { value: true }),
  rule("data001/probe-values", D1, [W, E, E, E], "probe finite with nonzero energy", { value: true }),
  rule("data001/object-values", D1, [W, E, E, E], "object finite", { value: true }),
  rule("data001/coords-values", D1, [W, E, E, E], "coordinates finite and inside the object", {
    value: true,
    note: "outside [0, size] → W; outside [H/2, size − H/2] → I",
  }),
  rule("data001/bool-values", [], [W, W, W, W], "bool bytes are 0/1", { value: true }),
  // §6.7 metadata
  rule("data001/metadata-encoding", ["DATA-002"], [I, I, I, I], "_metadata encoding"),
  rule("data001/metadata-shape", ["DATA-002"], [W, W, W, W], "_metadata 0-d, not bytes"),
  rule("data001/metadata-json", D1, [W, W, W, W], "_metadata is a JSON object"),
  rule("data001/metadata-schema", D1, [I, I, I, I], "_metadata schema_version 1.0.0"),
  rule("data001/metadata-physics", D1, [W, W, W, W], "_metadata physics agrees with the context", {
    note: "gridsize mismatch → I",
  }),
  rule("data001/phasec-provenance", ["PHASEC-METADATA-001"], [E, E, E, E], "Phase C provenance (role phase-c)"),
] as const;

/** Every rule id of the catalogue: a draft with a mistyped id does not compile. */
export type RuleId = (typeof LIST)[number]["id"];

/** All rules by id, in catalogue order. */
export const RULES: Readonly<Record<string, RuleDef>> = Object.freeze(Object.fromEntries(LIST.map((r) => [r.id, r])));

export const RULE_IDS: readonly string[] = LIST.map((r) => r.id);

export const VALUE_RULE_IDS: readonly string[] = LIST.filter((r) => r.value).map((r) => r.id);

export function ruleSeverity(id: string, profile: Profile): Severity | null {
  const r = RULES[id];
  if (!r) throw new RangeError(`Expected a known rule id, got '${id}'`);
  return r.severity[profile];
}

// Hints (data-001.md §6.2–§6.4).
export const HINTS = {
  diff3d: "legacy key `diff3d`; canonicalize with transpose_rename_convert (renames to `diffraction`)",
  container: "this is a grouped container NPZ, not a raw DATA-001 dataset",
  uint16: "integer diffraction is raw intensity (e.g. uint16 counts); DATA-001 stores normalized float amplitude (NORMALIZE-DATA-UINT16-001)",
  fewerPositions: "Every pattern needs a position",
  morePositions: "trailing positions would be dropped (more positions than patterns)",
  legacy: "transpose the stack to (M, H, W) (numpy: np.transpose(d, [2, 0, 1])) before training",
  pickled: "store numeric/string arrays without pickles (np.asarray(x, dtype=float64 / str)); loaders use allow_pickle=False",
  amplitude: "store sqrt(intensity), normalized; nphotons is a config parameter, not a data multiplier",
  phaseC: "regenerate Phase C outputs with the metadata-aware pipeline (transpose_rename_convert canonicalization)",
  coordsStart: "add xcoords_start/ycoords_start (copies of xcoords/ycoords for simulated data)",
} as const;
