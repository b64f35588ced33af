// §6.2 keys: required keys, diff3d vs diffraction, *_start coordinates, unknown keys.
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { KNOWN_KEYS, type RuleContext } from "./context.js";
import { REQUIRED_NPZ_KEYS, missingKeysMessage } from "../reference.js";
import { HINTS } from "../rules.js";

const CONTAINER_KEYS = ["X", "Y_I", "Y_phi", "norm_Y_I", "YY_full", "coords_nominal", "coords_true", "nn_indices", "global_offsets", "local_offsets", "probe"];

export function keyRules(ctx: RuleContext): void {
  const { facts, emit } = ctx;
  const has = (key: string) => ctx.byKey.has(key);
  const { byKey } = ctx;
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
}
