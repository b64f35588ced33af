// §6.6 values (from the scans): diffraction finite / non-negative / not all zero / normalized,
// probe finite with energy, object finite, coordinates finite and inside the object, bool bytes.
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { fmt, hdr as hdrOf, componentSum, nonFinite, type RuleContext } from "./context.js";
import type { ArrayStats, RowTally } from "../../types.js";
import type { FrameRef } from "../types.js";
import { HINTS } from "../rules.js";

export function valueRules(ctx: RuleContext): void {
  const { facts, emit } = ctx;
  const hdr = (key: string) => hdrOf(ctx, key);
  const { byKey, notEvaluated } = ctx;
  const { frame } = ctx.shape;
  const oH = hdr("objectGuess");
  const statsOf = (key: string): ArrayStats | null | undefined => {
    const m = byKey.get(key);
    if (!m || !hdr(key)) return undefined; // absent: rule not applicable
    return m.stats;
  };
  const skip = (...rules: string[]) =>
    rules.forEach((r) => {
      notEvaluated.add(r);
    });
  {
    const st = statsOf("diffraction");
    const rulesD = [
      "data001/diffraction-finite",
      "data001/diffraction-nonnegative",
      "data001/diffraction-nonzero",
      "data001/amplitude-scale",
      "data001/amplitude-ratio",
    ];
    if (st === null) skip(...rulesD);
    else if (st) {
      const c = st.components[0];
      const bad = nonFinite(st);
      // Per-frame tallies come from the same scan (rows of the first axis); they name frames only
      // when the stack's frames run along that axis (not for a legacy (H, W, M) stack).
      const rows = ctx.shape.framesFirst && ctx.shape.dKey === "diffraction" ? st.rows : undefined;
      const frames = (t: RowTally | undefined) => (t && t.rows > 0 ? { frames: frameRef(t) } : {});
      if (bad > 0)
        emit({ rule: "data001/diffraction-finite", key: "diffraction", message: `diffraction contains ${bad} non-finite values`, ...frames(rows?.nonfinite) });
      if (c && c.negative > 0)
        emit({
          rule: "data001/diffraction-nonnegative",
          key: "diffraction",
          message: `amplitude must be non-negative; min=${fmt(c.min)}`,
          hint: HINTS.amplitude,
          ...frames(rows?.negative),
        });
      if (c && st.elements > 0 && c.zero === st.elements)
        emit({ rule: "data001/diffraction-nonzero", key: "diffraction", message: "diffraction amplitudes are all zero" });
      else if (rows && rows.zero.rows > 0)
        // §6.6: the per-frame zero-energy count, reported as info (a dead frame trains on nothing).
        emit({
          rule: "data001/diffraction-nonzero",
          key: "diffraction",
          severity: "info",
          message: `diffraction has ${plural(rows.zero.rows, "zero-energy frame")} (every value 0): ${frameList(rows.zero)}`,
          ...frames(rows.zero),
        });
      if (c && c.max !== null && c.max >= 10)
        emit({
          rule: "data001/amplitude-scale",
          key: "diffraction",
          message: `diffraction max=${fmt(c.max)} appears unnormalized (or intensity, not amplitude)`,
          hint: HINTS.amplitude,
        });
      if (c && c.max !== null && c.finite > 0) {
        const mean = c.sum / c.finite;
        if (mean > 0 && c.max / mean > 100)
          emit({
            rule: "data001/amplitude-ratio",
            key: "diffraction",
            message: `diffraction max/mean=${(c.max / mean).toFixed(1)} > 100: may be intensity instead of amplitude`,
          });
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
    else if (st && nonFinite(st) > 0)
      emit({ rule: "data001/object-values", key: "objectGuess", message: `objectGuess contains ${nonFinite(st)} non-finite values` });
  }
  {
    const objShape = oH && oH.shape.length === 2 ? (oH.shape as [number, number]) : null;
    const half = frame ? frame[0] / 2 : null;
    for (const [key, axis] of [
      ["xcoords", 1],
      ["ycoords", 0],
    ] as const) {
      const st = statsOf(key);
      if (st === null) {
        skip("data001/coords-values");
        continue;
      }
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
        emit({
          rule: "data001/coords-values",
          key,
          severity: "warning",
          message: `${key} range [${fmt(c.min)}, ${fmt(c.max)}] lies outside the object [0, ${size}] (${axisName})`,
        });
      } else if (half !== null && (c.min < half || c.max > size - half)) {
        emit({
          rule: "data001/coords-values",
          key,
          severity: "info",
          message: `${key} range [${fmt(c.min)}, ${fmt(c.max)}] extends past [${half}, ${size - half}] (frames would leave the object)`,
        });
      }
    }
  }
  for (const m of facts.members) {
    const h = m.info.header;
    if (h?.kind !== "b" || byKey.get(m.info.key) !== m) continue;
    if (m.stats === null) skip("data001/bool-values");
    else if (m.stats.badBool > 0)
      emit({ rule: "data001/bool-values", key: m.info.key, message: `${m.info.key} has ${m.stats.badBool} bool bytes other than 0/1` });
  }
}

function frameRef(t: RowTally): FrameRef {
  return { first: [...t.first], counts: [...t.counts], total: t.rows, values: t.values };
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? "" : "s"}`;
}

/** "17" / "3, 5, 9, ..." : the first frames, with "..." when more are affected. */
function frameList(t: RowTally): string {
  return t.first.join(", ") + (t.rows > t.first.length ? ", ..." : "");
}
