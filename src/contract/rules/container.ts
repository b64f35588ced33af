// §6.1 container: member errors, non-NPY members, trailing bytes, alignment, byte order,
// Fortran order, unsupported dtypes, pickled members, storage; also what NumPy would load (refValues).
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { KNOWN_KEYS, type RuleContext } from "./context.js";
import type { CodedError } from "../engine.js";
import type { Draft } from "../draft.js";
import { isLoadFailure, ruleForCode } from "../engine.js";
import { BYTES_ATTRIBUTE_ERROR, REQUIRED_NPZ_KEYS, numpyDtypeName } from "../reference.js";
import { HINTS } from "../rules.js";

const TF_READS = new Set(["xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "diffraction", "probeGuess", "objectGuess", "Y"]);
const TORCH_READS = new Set(["xcoords", "ycoords", "diffraction", "diff3d", "probeGuess", "objectGuess", "scan_index"]);

export function containerRules(ctx: RuleContext): void {
  const { facts, options, emit } = ctx;
  const { byKey, refValues } = ctx;
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
      if (isLoadFailure(err.code) && !loadError)
        loadError = {
          code: err.code,
          message: err.message.includes(info.name) || err.message.includes(`'${info.key}'`) ? err.message : `${err.message} (member ${info.name})`,
        };
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
      emit({
        rule: "npz/alignment",
        key: info.key,
        message: `array data of '${info.key}' at offset ${h.arrayOffset} is not a multiple of the itemsize ${h.itemsize} (copied on read)`,
      });
    }
    if (h.bigEndian) emit({ rule: "npz/byte-order", key: info.key, message: `'${info.key}' is big-endian (${h.descr}); readers byte-swap a copy` });
    if (h.fortranOrder && KNOWN_KEYS.has(info.key)) {
      emit({ rule: "npz/fortran-order", key: info.key, message: `'${info.key}' is stored in Fortran order` });
    }
    if (!h.supported && h.kind !== "O" && !KNOWN_KEYS.has(info.key) && info.error?.code !== "ERR_NPY_UNSUPPORTED_DTYPE") {
      emit({
        rule: "npz/unsupported-dtype",
        key: info.key,
        message: `'${info.key}' has dtype ${h.dtypeName || h.descr} that npzguard does not read${h.unsupportedReason ? ` (${h.unsupportedReason})` : ""}`,
      });
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

  ctx.loadError = loadError;
}
