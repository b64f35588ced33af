// Legacy (H, W, M) diffraction layout detection (data-001.md §6.5, FORMAT-001): both loader
// heuristics, evaluated independently so a report can say when they disagree.

export type TfLayout = "canonical" | "legacy" | "unalignable";
export type TorchLayout = "canonical" | "legacy" | "not-rank-3";

/** TF `load_data`: canonical if a == n; legacy if c == n; else it raises. n unknown → canonical. */
export function tfLayout(shape: readonly number[], n: number | null): TfLayout {
  if (shape.length !== 3) return "unalignable";
  const [a, , c] = shape as [number, number, number];
  if (n === null) return "canonical";
  if (a === n) return "canonical";
  if (c === n) return "legacy";
  return "unalignable";
}

/** torch `_canonical_diffraction_layout`, in its priority order. */
export function torchLayout(shape: readonly number[], n: number | null): TorchLayout {
  if (shape.length !== 3) return "not-rank-3";
  const [a, b, c] = shape as [number, number, number];
  const canonicalSquare = b === c;
  const legacySquare = a === b;
  if (canonicalSquare !== legacySquare) return legacySquare ? "legacy" : "canonical";
  const bigC = c > Math.max(a, b);
  if (n !== null) {
    const aN = a === n;
    const cN = c === n;
    if (aN !== cN) return cN ? "legacy" : "canonical";
    const aLess = a < n;
    const cLess = c < n;
    if (aLess !== cLess) return cLess ? "legacy" : "canonical";
    return bigC ? "legacy" : "canonical";
  }
  return bigC ? "legacy" : "canonical";
}

export interface LayoutVerdict {
  tf: TfLayout;
  torch: TorchLayout;
  legacy: boolean;
  disagree: boolean;
  message: string;
}

function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** null when neither heuristic says legacy. */
export function detectLegacyLayout(shape: readonly number[], n: number | null): LayoutVerdict | null {
  if (shape.length !== 3) return null;
  const tf = tfLayout(shape, n);
  const torch = torchLayout(shape, n);
  if (tf !== "legacy" && torch !== "legacy") return null;
  const disagree = tf !== torch;
  let message = `legacy (H, W, M) layout; loaders transpose it, the study validator does not (diffraction ${shapeText(shape)}`;
  message += n === null ? ")" : `, ${n} positions)`;
  if (disagree) {
    const tfText =
      tf === "unalignable"
        ? `TF load_data cannot align it (Unable to align diffraction shape ${shapeText(shape)} with xcoords length ${n}.)`
        : `TF load_data reads it as ${tf}`;
    message += `; heuristics disagree: ${tfText}, torch reads it as ${torch}`;
  }
  return { tf, torch, legacy: true, disagree, message };
}
