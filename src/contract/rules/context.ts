// What every rule module sees: the file's facts, the check options, lookups over the members,
// and the facts an earlier section derived (the container pass fills byKey / refValues /
// loadError; the shapes section fills `shape`). engine.ts builds one per file and runs the
// sections in the spec's order: container, keys, dtypes, shapes, values, metadata.
import type { ArrayStats, NpyHeaderInfo } from "../../types.js";
import type { Draft } from "../draft.js";
import type { CodedError, FileFacts, MemberFacts } from "../engine.js";
import type { RefValue } from "../reference.js";
import { numpyDtypeName } from "../reference.js";
import type { CheckOptions, Profile } from "../types.js";
import { pyFloatRepr } from "../../python/repr.js";

export interface ShapeFacts {
  /** The diffraction stack's key ("diffraction", else "diff3d") and header. */
  dKey: string | null;
  dH: NpyHeaderInfo | null;
  /** Number of scan positions and the frame (H, W), from the diffraction stack's layout. */
  M: number | null;
  frame: [number, number] | null;
  ySingleton: boolean;
  /** The stack's frames run along its first axis ((M, H, W) or (M, H, W, 1), not legacy). */
  framesFirst: boolean;
}

export interface RuleContext {
  facts: FileFacts;
  options: CheckOptions;
  profile: Profile;
  gridsize: number;
  nGroups: number;
  role: NonNullable<CheckOptions["role"]>;
  emit(d: Draft): void;
  /** Rules that could not be evaluated (values not read). */
  notEvaluated: Set<string>;
  /** First member of each key (later duplicates are findings of the container pass). */
  byKey: Map<string, MemberFacts>;
  /** What `dict(np.load(...))[key]` is, for the reference verdict. */
  refValues: Map<string, RefValue>;
  loadError: CodedError | null;
  shape: ShapeFacts;
}

export function makeContext(facts: FileFacts, options: CheckOptions, emit: (d: Draft) => void): RuleContext {
  return {
    facts,
    options,
    profile: options.profile ?? "study",
    gridsize: options.gridsize ?? 1,
    nGroups: options.nGroups ?? 512,
    role: options.role ?? "generic",
    emit,
    notEvaluated: new Set<string>(),
    byKey: new Map(),
    refValues: new Map(),
    loadError: null,
    shape: { dKey: null, dH: null, M: null, frame: null, ySingleton: false, framesFirst: false },
  };
}

/** The NPY header of a key's first member, when it is an NPY array. */
export function hdr(ctx: RuleContext, key: string): NpyHeaderInfo | null {
  const m = ctx.byKey.get(key);
  return m?.info.npyMagic && m.info.header ? m.info.header : null;
}

export function dtName(h: NpyHeaderInfo): string {
  return h.dtypeName || numpyDtypeName(h.descr);
}

/** A value as Python prints it in a message (None for a missing one). */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined) return "None";
  return pyFloatRepr(v);
}

export function componentSum(stats: ArrayStats, f: (c: ArrayStats["components"][number]) => number): number {
  return stats.components.reduce((a, c) => a + f(c), 0);
}

export function nonFinite(stats: ArrayStats): number {
  // Elements with any non-finite component would double-count for complex; count per component.
  return componentSum(stats, (c) => c.nan + c.posInf + c.negInf);
}

/** Keys of the §4 inventory. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  "diffraction",
  "diff3d",
  "probeGuess",
  "objectGuess",
  "xcoords",
  "ycoords",
  "xcoords_start",
  "ycoords_start",
  "scan_index",
  "Y",
  "ground_truth_patches",
  "coords_start_offsets",
  "coords_start_relative",
  "filenames",
  "nn_indices",
  "label",
  "_metadata",
  "_shuffle_applied",
  "_shuffle_seed",
]);
