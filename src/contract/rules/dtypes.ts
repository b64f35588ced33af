// §6.3 dtypes: diffraction floating (float32), probe/object complex (complex64), coordinates
// floating (float64), auxiliary keys.
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { dtName, hdr as hdrOf, type RuleContext } from "./context.js";
import { complexDtypeMessage, diffractionDtypeMessage, floatDtypeMessage } from "../reference.js";
import { HINTS } from "../rules.js";

export function dtypeRules(ctx: RuleContext): void {
  const { emit } = ctx;
  const hdr = (key: string) => hdrOf(ctx, key);
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
      emit({
        rule: "data001/diffraction-precision",
        key: "diffraction",
        message: `diffraction is ${dtName(diffH)} (canonical float32; torch casts with a full copy)`,
      });
    }
  }
  const d3H = hdr("diff3d");
  if (d3H && !diffH && d3H.kind !== "f") {
    emit({
      rule: "data001/diffraction-dtype",
      key: "diff3d",
      message: diffractionDtypeMessage(dtName(d3H)).replace(/^diffraction/, "diff3d"),
      ...(d3H.kind === "u" || d3H.kind === "i" ? { hint: HINTS.uint16 } : {}),
      severity: "warning",
    });
  }
  for (const [key, rule] of [
    ["objectGuess", "data001/object-dtype"],
    ["probeGuess", "data001/probe-dtype"],
  ] as const) {
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
    if (si && si.kind !== "i" && si.kind !== "u")
      emit({ rule: "data001/aux-dtypes", key: "scan_index", message: `scan_index should be integer, got dtype=${dtName(si)}` });
    for (const key of ["Y", "ground_truth_patches"]) {
      const h = hdr(key);
      if (h && h.kind !== "c") emit({ rule: "data001/aux-dtypes", key, message: `${key} should be complex, got dtype=${dtName(h)}` });
    }
    for (const key of ["xcoords_start", "ycoords_start"]) {
      const h = hdr(key);
      if (h && h.kind !== "f")
        emit({ rule: "data001/aux-dtypes", key, message: `${key} must be float dtype, got dtype=${dtName(h)}`, severity: { tensorflow: "error" } });
    }
  }
}
