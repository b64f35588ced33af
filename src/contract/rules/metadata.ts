// §6.7 metadata: `_metadata` encoding, shape, JSON, schema, physics against the context, and the
// Phase C provenance guard (contract/metadata.ts parses it; this section decides what is read).
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { dtName, type RuleContext } from "./context.js";
import { evaluateMetadata } from "../metadata.js";

/** Emits the metadata findings; returns the parsed `_metadata` object, if any. */
export function metadataRules(ctx: RuleContext): unknown {
  const { facts, options, byKey, role, gridsize } = ctx;
  const { frame } = ctx.shape;
  let metadata: unknown;
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
    for (const d of res.drafts) ctx.emit(d);
    if (res.object) metadata = res.object;
  }

  return metadata;
}
