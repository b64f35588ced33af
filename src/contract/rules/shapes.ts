// §6.4 shapes: coordinate lengths, K for oversampling, rank and layout of the diffraction
// stack (M and the frame, kept in ctx.shape for the later sections), probe / object / coordinate
// shapes, Y patches, global arrays, scan_index, grouping capacity, the supervised label.
// Each rule module takes the file's facts (through the RuleContext that engine.ts builds) and
// emits drafts: findings before the profile's severity is applied.
import { hdr as hdrOf, type RuleContext } from "./context.js";
import type { NpyHeaderInfo } from "../../types.js";
import { detectLegacyLayout } from "../layout.js";
import { INDEX_ERROR, lengthMessage, neighborRequiredMessage, neighborTooSmallMessage, pyShape } from "../reference.js";
import { HINTS } from "../rules.js";

const PATCH_SIZES = new Set([64, 128, 256]);

export function shapeRules(ctx: RuleContext): void {
  const { options, emit } = ctx;
  const hdr = (key: string) => hdrOf(ctx, key);
  const has = (key: string) => ctx.byKey.has(key);
  const { gridsize, nGroups, refValues } = ctx;
  const diffH = hdr("diffraction");
  const d3H = hdr("diff3d");
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
      for (const [key, h] of [
        ["xcoords", xH],
        ["ycoords", yH],
      ] as const) {
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
  let framesFirst = false;
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
        framesFirst = true;
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
        emit({
          rule: "data001/global-first-axis",
          key,
          message: `global array ${key} ${pyShape(h.shape)} has first dimension == M=${M}; split/filter tools would slice it per scan`,
        });
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
      emit({
        rule: "data001/grouping-capacity",
        key: null,
        message: `Requesting ${nGroups} groups but only ${M} points available (gridsize=${gridsize}, C=${C}). K choose C oversampling is required but not enabled.`,
      });
    } else if (C === 1 && nGroups > M) {
      emit({
        rule: "data001/grouping-capacity",
        key: null,
        severity: "info",
        message: `Requested ${nGroups} groups but only ${M} points available. Using all points as seeds.`,
      });
    }
  }
  if (options.supervised) {
    const lH = hdr("label");
    const canon = M !== null && frame ? [M, frame[0], frame[1]] : (dH?.shape ?? null);
    if (!has("label")) emit({ rule: "data001/label", key: "label", message: "supervised training requires a 'label' array (DATA-SUP-001)" });
    else if (lH && canon && pyShape(lH.shape) !== pyShape(canon)) {
      emit({ rule: "data001/label", key: "label", message: `label shape mismatch. Expected ${pyShape(canon)}, got ${pyShape(lH.shape)}` });
    }
  }

  ctx.shape = { dKey, dH, M, frame, ySingleton, framesFirst };
}
