// `_metadata` rules (data-001.md §6.7, §7): encoding, shape, JSON, schema, physics cross-checks
// and the Phase C provenance guard (PHASEC-METADATA-001, §7.3, exact messages).
import type { ObjectStrings } from "../types.js";
import type { Draft } from "./draft.js";
import { pyShape } from "./reference.js";
import { pyFloatRepr, pyRepr } from "../python/repr.js";
import { HINTS } from "./rules.js";
import { pyJsonParse } from "../python/json.js";
import type { Role } from "./types.js";

export interface MetadataInput {
  path: string;
  role: Role;
  /** Strings of the `_metadata` member, null when absent or unreadable. */
  strings: ObjectStrings | null;
  /** Set when `_metadata` exists but is not a |O/<U/|S array (or could not be read). */
  unusable?: string;
  dose?: number;
  /** Frame size H of the canonical diffraction, if known. */
  frame?: number | null;
  gridsize: number;
}

export interface MetadataResult {
  drafts: Draft[];
  /** Parsed JSON value when the text parses (any JSON type). */
  parsed: unknown;
  /** Parsed value when it is a JSON object. */
  object: Record<string, unknown> | null;
}

const PHASE_D_FIELDS = [
  "gridsize",
  "s_img",
  "n_groups",
  "neighbor_count",
  "probe_diameter_px",
  "rng_seed_subsample",
  "metrics_version",
  "geometry_acceptance_bound",
  "effective_min_acceptance",
];

/**
 * `json.loads`: standard JSON plus the NaN/Infinity/-Infinity tokens Python's `json.dumps`
 * writes for non-finite floats (e.g. a physics parameter); JSON.parse first (fast path).
 */
function parseJsonLikePython(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!/NaN|Infinity/.test(text)) throw e;
    return pyJsonParse(text);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function evaluateMetadata(input: MetadataInput): MetadataResult {
  const drafts: Draft[] = [];
  const K = "_metadata";
  let text: string | null = null;
  const s = input.strings;
  if (s) {
    const shapeText = pyShape(s.shape);
    drafts.push({ rule: "data001/metadata-encoding", key: K, message: `_metadata encoding: ${s.encoding}, shape ${shapeText}` });
    const count = s.items.length;
    if (s.shape.length === 0 || (s.shape.length === 1 && count === 1)) {
      const item = s.items[0];
      text = typeof item === "string" ? item : null;
      if (s.shape.length !== 0) {
        drafts.push({
          rule: "data001/metadata-shape",
          key: K,
          message: `_metadata must be 0-d; got shape ${shapeText} (read anyway)`,
        });
      }
    } else {
      drafts.push({
        rule: "data001/metadata-shape",
        key: K,
        message: `_metadata must be 0-d; got shape ${shapeText} (treated as no metadata)`,
      });
    }
    if (s.encoding === "bytes") {
      drafts.push({
        rule: "data001/metadata-shape",
        key: K,
        message: "_metadata stored as bytes (|S): MetadataManager reads it as \"b'...'\" and fails to parse it",
      });
    }
  } else if (input.unusable) {
    drafts.push({ rule: "data001/metadata-shape", key: K, message: input.unusable });
  }

  let parsed: unknown;
  let parseOk = false;
  if (text !== null) {
    try {
      parsed = parseJsonLikePython(text);
      parseOk = true;
    } catch (e) {
      drafts.push({
        rule: "data001/metadata-json",
        key: K,
        message: `_metadata is not valid JSON (${e instanceof Error ? e.message : String(e)}); MetadataManager returns no metadata`,
      });
    }
    if (parseOk && !isObject(parsed)) {
      drafts.push({ rule: "data001/metadata-json", key: K, message: "_metadata JSON is not an object" });
    }
  } else if (s && s.items.length === 1 && s.items[0] === null) {
    drafts.push({ rule: "data001/metadata-json", key: K, message: "_metadata holds None, not JSON text" });
  }
  const object = parseOk && isObject(parsed) ? parsed : null;

  if (object) {
    if (input.role === "phase-d") {
      const present = PHASE_D_FIELDS.filter((f) => f in object);
      const missing = PHASE_D_FIELDS.filter((f) => !(f in object));
      drafts.push({
        rule: "data001/metadata-schema",
        key: K,
        message: `Phase D metadata fields present: ${pyRepr(present)}; missing: ${pyRepr(missing)}`,
      });
    } else {
      const managerFile = "physics_parameters" in object || "data_transformations" in object || "creation_info" in object || "schema_version" in object;
      if (managerFile && object.schema_version !== "1.0.0") {
        drafts.push({
          rule: "data001/metadata-schema",
          key: K,
          message:
            object.schema_version === undefined
              ? '_metadata has no schema_version (expected "1.0.0")'
              : `_metadata schema_version ${pyRepr(object.schema_version)} != '1.0.0'`,
        });
      }
    }
    const phys = object.physics_parameters;
    if (isObject(phys)) {
      if (input.dose !== undefined) {
        const nph = phys.nphotons === undefined ? 1e9 : phys.nphotons;
        if (typeof nph === "number" && Math.abs(nph - input.dose) > 1e-9) {
          drafts.push({
            rule: "data001/metadata-physics",
            key: K,
            message: `nphotons mismatch: dataset=${pyFloatRepr(nph)}, config=${pyFloatRepr(input.dose)}`,
          });
        } else if (typeof nph !== "number") {
          drafts.push({ rule: "data001/metadata-physics", key: K, message: `nphotons mismatch: dataset=${pyRepr(nph)}, config=${pyFloatRepr(input.dose)}` });
        }
      }
      if (input.frame != null && phys.N !== undefined && phys.N !== input.frame) {
        drafts.push({ rule: "data001/metadata-physics", key: K, message: `N mismatch: dataset=${pyRepr(phys.N)}, config=${input.frame}` });
      }
      if (phys.gridsize !== undefined && phys.gridsize !== input.gridsize) {
        drafts.push({
          rule: "data001/metadata-physics",
          key: K,
          severity: "info",
          message: `gridsize mismatch: dataset=${pyRepr(phys.gridsize)}, config=${input.gridsize}`,
        });
      }
    }
  }

  if (input.role === "phase-c") drafts.push(...phaseCProvenance(input.path, parseOk && parsed !== null ? parsed : null));
  return { drafts, parsed: parseOk ? parsed : undefined, object };
}

/** §7.3: validate_phase_c_metadata for one split file; `meta` is null when absent/unparseable. */
export function phaseCProvenance(path: string, meta: unknown): Draft[] {
  const rule = "data001/phasec-provenance";
  const K = "_metadata";
  if (meta === null || meta === undefined) {
    return [
      {
        rule,
        key: K,
        hint: HINTS.phaseC,
        message: `Phase C NPZ file missing required _metadata field: ${path}. This file was likely generated before metadata tracking was enabled. Please regenerate Phase C outputs with metadata support.`,
      },
    ];
  }
  const malformed: Draft = { rule, key: K, hint: HINTS.phaseC, message: `Phase C NPZ file has malformed _metadata: ${path}` };
  if (!isObject(meta)) return [malformed];
  let list = meta.data_transformations === undefined ? [] : meta.data_transformations;
  // Python iterates whatever it finds: "" and {} yield no records (no crash), so the guard
  // reports the missing transformation with an empty list rather than a malformed file.
  if (list === "" || (isObject(list) && Object.keys(list).length === 0)) list = [];
  if (!Array.isArray(list)) return [malformed];
  if (!list.every(isObject)) return [malformed];
  const records = list as Record<string, unknown>[];
  if (records.some((t) => t.tool === "transpose_rename_convert")) return [];
  const tools = records.map((t) => (t.tool === undefined ? null : t.tool));
  return [
    {
      rule,
      key: K,
      hint: HINTS.phaseC,
      message: `Phase C NPZ file missing required canonical transformation in _metadata: ${path}. Expected 'transpose_rename_convert' in data_transformations list. Found transformations: ${pyRepr(tools)}. Please ensure Phase C pipeline includes transpose_rename_convert canonicalization.`,
    },
  ];
}
