// Synthetic Phase C/D study tree (study-fly64-dose-overlap.md §3, data-001.md §4, §7, §8).
//
// One object, one probe and one scan are simulated; each dose gets its own Poisson draw of the
// same noiseless far-field intensities. Amplitudes follow NORMALIZATION-001: with I the
// far-field intensity of probe x object patch (orthonormal 2-D FFT, DC centred) and
// s = sqrt(nphotons / mean_M(sum_HW I)), the stored diffraction is sqrt(Poisson(s^2 I)) / s, so
// it is amplitude-scaled, not photon-scaled, and mean_M(sum_HW X^2) ~ (N/2)^2 (the TF loader's
// canonical scale). The probe is a soft disk with a defocus phase that spreads the far field
// over a disk of radius ~N/4 pixels, which keeps max(X) well under 10 at every dose.
//
// Layout written under `outDir`:
//   phase_c/dose_<int>/patched_{train,test}.npz   pickled MetadataManager-style `_metadata`
//   phase_c/run_manifest.json
//   phase_d/dose_<int>/{dense,sparse}/{train,test}.npz   `<U` JSON `_metadata`
// Deterministic for a given seed (including `_metadata` when `timestamp` is given).
// Synchronous; throws RangeError/TypeError for bad options and node:fs errors for I/O.
// Over 400 lines: one simulation pipeline (object, probe, scan, far field, per-dose Poisson draw,
// Phase C/D files and their _metadata) whose steps share the same arrays and parameters.
import FFT from "fft.js";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { numericNpy, pickledStringScalarNpy, unicodeScalarNpy, type NpyParts } from "../writer/npy.js";
import { NpzWriter } from "../writer/npz.js";
import { pyFloat, pyJsonDump, type PyJsonValue } from "../python/json.js";
import { doseDirName } from "../study/matrix.js";

/**
 * Default scan positions: enough that the default `plan` (n_groups 512, K 4) passes. The
 * y-split halves the raster (about 700 per split at 1400) and the dense view keeps 80% of a
 * split, so the smallest split (dense) has 558 positions >= 512 for every seed; the frames stay
 * 64x64 (a patch size the contract accepts). About 25 MB for three doses, 3 s of CPU.
 */
export const SYNTH_DEFAULT_POSITIONS = 1400;

export interface SynthOptions {
  /** Root of the tree (created if missing). */
  outDir: string;
  /** Doses (nphotons), default [1e3, 1e4, 1e5]. */
  doses?: readonly number[];
  /** Scan positions before the train/test split, default SYNTH_DEFAULT_POSITIONS (minimum 4). */
  positions?: number;
  /** Frame size N, 64 (default) or 128. */
  size?: 64 | 128;
  /** DEFLATE members like np.savez_compressed (default true); false writes STORED members. */
  compressed?: boolean;
  /**
   * zlib level of DEFLATEd members, default 1: the format of np.savez_compressed (which uses 6)
   * at half the CPU time for noisy float32 frames, about 10% larger files.
   */
  deflateLevel?: number;
  /** PRNG seed, default 42 (the design's simulation seed). */
  seed?: number;
  /** Timestamp written into `_metadata` (default: now). */
  timestamp?: Date;
}

export type SynthSplit = "train" | "test";

export interface SynthFile {
  /** Path as built from `outDir` (relative stays relative). */
  path: string;
  phase: "c" | "d";
  dose: number;
  view: "baseline" | "dense" | "sparse";
  split: SynthSplit;
  /** Number of scan positions (first axis of `diffraction`). */
  positions: number;
  bytes: number;
}

export interface SynthResult {
  outDir: string;
  phaseCRoot: string;
  phaseDRoot: string;
  frameSize: number;
  objectSize: number;
  positions: number;
  doses: number[];
  compressed: boolean;
  seed: number;
  files: SynthFile[];
  /** Largest diffraction amplitude written (all files). */
  maxAmplitude: number;
}

export { doseDirName };

// ---------------------------------------------------------------------------------------------
// Random numbers

/** mulberry32: small, fast, seedable 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** log(k!) via a table for small k and Stirling's series beyond. */
const LOG_FACT_TABLE: number[] = (() => {
  const t = [0];
  for (let k = 1; k < 256; k++) t.push(t[k - 1]! + Math.log(k));
  return t;
})();
function logFactorial(k: number): number {
  if (k < 256) return LOG_FACT_TABLE[k]!;
  const x = k + 1;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x * x * x) + 1 / (1260 * x ** 5);
}

/**
 * Poisson sampler: Knuth's multiplication method for lambda < 10, Hörmann's PTRS
 * (transformed rejection with squeeze) otherwise.
 */
export function poisson(lambda: number, rand: () => number): number {
  if (!(lambda > 0)) return 0;
  if (lambda < 10) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = rand();
    while (p > limit) {
      k++;
      p *= rand();
    }
    return k;
  }
  const slam = Math.sqrt(lambda);
  const loglam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rand() - 0.5;
    const v = rand();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) return k;
  }
}

// ---------------------------------------------------------------------------------------------
// Physics

interface Scene {
  n: number;
  size: number;
  /** Object, interleaved complex, size x size. */
  object: Float64Array;
  /** Probe, interleaved complex, n x n. */
  probe: Float64Array;
  xs: Float64Array;
  ys: Float64Array;
  /** Noiseless far-field intensity per position, fftshifted, M x n x n. */
  intensity: Float64Array;
}

function smoothField(size: number, rand: () => number, terms: number, maxFreq: number): Float64Array {
  const f = new Float64Array(size * size);
  const waves = Array.from({ length: terms }, () => ({
    kx: (rand() * 2 - 1) * maxFreq * 2 * Math.PI,
    ky: (rand() * 2 - 1) * maxFreq * 2 * Math.PI,
    ph: rand() * 2 * Math.PI,
    amp: 0.5 + rand(),
  }));
  let norm = 0;
  for (const w of waves) norm += w.amp;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 0;
      for (const w of waves) v += w.amp * Math.cos(w.kx * x + w.ky * y + w.ph);
      f[y * size + x] = v / norm; // in [-1, 1]
    }
  }
  return f;
}

/** Object edge length for N and M: room for a jittered grid with ~N/16 px steps, >= 2N. */
function objectSizeFor(n: number, m: number): number {
  const g = Math.ceil(Math.sqrt(m));
  const raw = Math.max(2 * n, n + g * Math.max(2, n / 16));
  return Math.ceil(raw / 8) * 8 + 8;
}

function makeScene(n: number, m: number, rand: () => number): Scene {
  const size = objectSizeFor(n, m);
  // Object: amplitude in [0.6, 1.0], phase in [-pi/2, pi/2], both smooth.
  const amp = smoothField(size, rand, 10, 0.06);
  const phase = smoothField(size, rand, 10, 0.04);
  const object = new Float64Array(2 * size * size);
  for (let i = 0; i < size * size; i++) {
    const a = 0.8 + 0.2 * amp[i]!;
    const p = (Math.PI / 2) * phase[i]!;
    object[2 * i] = a * Math.cos(p);
    object[2 * i + 1] = a * Math.sin(p);
  }
  // Probe: super-Gaussian disk of radius R = N/4 with defocus phase beta r^2, beta = pi / (4R):
  // local frequency beta r / pi reaches 1/4 cycle/px at the rim (no aliasing).
  const r0 = n / 4;
  const beta = Math.PI / (4 * r0);
  const probe = new Float64Array(2 * n * n);
  const c = n / 2;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const r2 = (x - c) ** 2 + (y - c) ** 2;
      const a = Math.exp(-0.5 * (r2 / (r0 * r0)) ** 4);
      probe[2 * (y * n + x)] = a * Math.cos(beta * r2);
      probe[2 * (y * n + x) + 1] = a * Math.sin(beta * r2);
    }
  }
  // Jittered raster scan inside [N/2, size - N/2]; rows are well separated so the y-split is
  // exact whatever the jitter.
  const cols = Math.ceil(Math.sqrt(m));
  const rows = Math.ceil(m / cols);
  const lo = n / 2;
  const hi = size - n / 2;
  const stepX = cols > 1 ? (hi - lo) / (cols - 1) : 0;
  const stepY = rows > 1 ? (hi - lo) / (rows - 1) : 0;
  const xs = new Float64Array(m);
  const ys = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const r = Math.floor(i / cols);
    const k = i % cols;
    const jx = (rand() - 0.5) * 0.4 * stepX;
    const jy = (rand() - 0.5) * 0.4 * stepY;
    xs[i] = Math.min(hi, Math.max(lo, lo + k * stepX + jx));
    ys[i] = Math.min(hi, Math.max(lo, lo + r * stepY + jy));
  }
  // Scale the probe so that mean sum |probe * patch|^2 = (N/2)^2 (= mean sum I, by Parseval).
  const intensity = farField(n, size, object, probe, xs, ys);
  let total = 0;
  for (let i = 0; i < intensity.length; i++) total += intensity[i]!;
  const scale2 = (n / 2) ** 2 / (total / m);
  const scale = Math.sqrt(scale2);
  for (let i = 0; i < probe.length; i++) probe[i]! *= scale;
  for (let i = 0; i < intensity.length; i++) intensity[i]! *= scale2;
  return { n, size, object, probe, xs, ys, intensity };
}

function patchOrigin(pos: number, n: number, size: number): number {
  return Math.min(size - n, Math.max(0, Math.round(pos - n / 2)));
}

/** |FFT2(probe * patch)|^2 / N^2 per position, with the DC term moved to the centre. */
function farField(n: number, size: number, object: Float64Array, probe: Float64Array, xs: Float64Array, ys: Float64Array): Float64Array {
  const m = xs.length;
  const fft = new FFT(n);
  const field = new Float64Array(2 * n * n);
  const rowIn = new Float64Array(2 * n);
  const rowOut = new Float64Array(2 * n);
  const out = new Float64Array(m * n * n);
  const norm = 1 / (n * n);
  const half = n / 2;
  for (let p = 0; p < m; p++) {
    const ox = patchOrigin(xs[p]!, n, size);
    const oy = patchOrigin(ys[p]!, n, size);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const o = 2 * ((oy + y) * size + ox + x);
        const q = 2 * (y * n + x);
        const ore = object[o]!,
          oim = object[o + 1]!;
        const pre = probe[q]!,
          pim = probe[q + 1]!;
        field[q] = pre * ore - pim * oim;
        field[q + 1] = pre * oim + pim * ore;
      }
    }
    // Rows, then columns.
    for (let y = 0; y < n; y++) {
      rowIn.set(field.subarray(2 * y * n, 2 * (y + 1) * n));
      fft.transform(rowOut, rowIn);
      field.set(rowOut, 2 * y * n);
    }
    for (let x = 0; x < n; x++) {
      for (let y = 0; y < n; y++) {
        rowIn[2 * y] = field[2 * (y * n + x)]!;
        rowIn[2 * y + 1] = field[2 * (y * n + x) + 1]!;
      }
      fft.transform(rowOut, rowIn);
      for (let y = 0; y < n; y++) {
        field[2 * (y * n + x)] = rowOut[2 * y]!;
        field[2 * (y * n + x) + 1] = rowOut[2 * y + 1]!;
      }
    }
    const base = p * n * n;
    for (let y = 0; y < n; y++) {
      const sy = (y + half) % n;
      for (let x = 0; x < n; x++) {
        const sx = (x + half) % n;
        const q = 2 * (y * n + x);
        out[base + sy * n + sx] = (field[q]! ** 2 + field[q + 1]! ** 2) * norm;
      }
    }
  }
  return out;
}

/** Poisson-noisy, normalized amplitudes for one dose (data-001 §8). */
function noisyAmplitudes(scene: Scene, dose: number, rand: () => number): Float32Array {
  const m = scene.xs.length;
  let total = 0;
  for (let i = 0; i < scene.intensity.length; i++) total += scene.intensity[i]!;
  const s2 = dose / (total / m);
  const s = Math.sqrt(s2);
  const out = new Float32Array(scene.intensity.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(poisson(scene.intensity[i]! * s2, rand)) / s;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

function toComplex64(src: Float64Array): Float32Array {
  return Float32Array.from(src);
}

function pickRows(src: Float32Array | Float64Array, rowLen: number, idx: readonly number[]): Float32Array | Float64Array {
  const out = src instanceof Float32Array ? new Float32Array(idx.length * rowLen) : new Float64Array(idx.length * rowLen);
  idx.forEach((r, i) => {
    out.set(src.subarray(r * rowLen, (r + 1) * rowLen), i * rowLen);
  });
  return out;
}

/** Python's round() (half to even) for non-negative values. */
function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

interface SplitData {
  idx: number[];
  diffraction: Float32Array;
}

function isoUtc(d: Date): string {
  // datetime.utcnow().isoformat() + "Z": microseconds, omitted when zero.
  const base = d.toISOString().replace(/\.\d+Z$/, "");
  const ms = d.getUTCMilliseconds();
  return ms === 0 ? `${base}Z` : `${base}.${String(ms * 1000).padStart(6, "0")}Z`;
}

function phaseCMetadata(o: {
  dose: number;
  n: number;
  m: number;
  split: SynthSplit;
  parentFile: string;
  splitPoint: number;
  trainCount: number;
  testCount: number;
  seed: number;
  timestamp: string;
}): string {
  const record = (tool: string, operation: string, parameters: { [k: string]: PyJsonValue }): PyJsonValue => ({
    tool,
    timestamp: o.timestamp,
    operation,
    parameters,
  });
  const meta: PyJsonValue = {
    schema_version: "1.0.0",
    creation_info: { timestamp: o.timestamp, script: "npzguard synth", hostname: "npzguard-synth", ptychopinn_version: "2.0.0" },
    physics_parameters: {
      nphotons: pyFloat(o.dose),
      gridsize: 1,
      N: o.n,
      probe_trainable: false,
      intensity_scale_trainable: true,
      nll_weight: pyFloat(1),
      model_type: "pinn",
    },
    training_parameters: { n_images: o.m, batch_size: 16, nepochs: 50 },
    data_transformations: [
      record("transpose_rename_convert", "canonicalize", { flipx: false, flipy: false }),
      record("generate_patches", "generate_patches", { patch_size: o.n, k_neighbors: 7 }),
      record("split_dataset_tool.py", "train_test_split", {
        split_fraction: pyFloat(0.5),
        split_axis: "y",
        parent_file: o.parentFile,
        split_point: pyFloat(o.splitPoint),
        train_count: o.trainCount,
        test_count: o.testCount,
      }),
    ],
    additional_parameters: { synthetic: true, generator: "npzguard synth", seed: o.seed, split: o.split },
  };
  return pyJsonDump(meta, 2);
}

const PHASE_D_VIEWS = [
  { view: "dense" as const, gridsize: 2, sImg: 0.8 },
  { view: "sparse" as const, gridsize: 1, sImg: 1.0 },
];
const PHASE_D_SEED = 456;
const PROBE_DIAMETER_PX = 38.4;
const PHASE_D_NEIGHBORS = 25;

function checkOptions(o: SynthOptions): Required<Omit<SynthOptions, "timestamp">> & { timestamp: Date } {
  if (typeof o.outDir !== "string" || o.outDir === "") throw new TypeError(`Expected a non-empty string for outDir, got ${JSON.stringify(o.outDir)}`);
  const doses = [...(o.doses ?? [1e3, 1e4, 1e5])];
  if (doses.length === 0) throw new RangeError("Expected at least one dose for doses, got []");
  for (const d of doses) if (!(Number.isFinite(d) && d >= 1)) throw new RangeError(`Expected finite doses >= 1 for doses, got ${d}`);
  const dirs = new Set(doses.map(doseDirName));
  if (dirs.size !== doses.length) throw new RangeError(`Expected doses with distinct dose_<int> directories for doses, got ${doses.join(",")}`);
  const positions = o.positions ?? SYNTH_DEFAULT_POSITIONS;
  if (!Number.isInteger(positions) || positions < 4 || positions > 100_000)
    throw new RangeError(`Expected an integer 4..100000 for positions, got ${positions}`);
  const size = o.size ?? 64;
  if (size !== 64 && size !== 128) throw new RangeError(`Expected 64 or 128 for size, got ${String(size)}`);
  const seed = o.seed ?? 42;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`Expected an integer 0..4294967295 for seed, got ${seed}`);
  const deflateLevel = o.deflateLevel ?? 1;
  if (!Number.isInteger(deflateLevel) || deflateLevel < 0 || deflateLevel > 9)
    throw new RangeError(`Expected an integer 0..9 for deflateLevel, got ${deflateLevel}`);
  return { outDir: o.outDir, doses, positions, size, compressed: o.compressed ?? true, deflateLevel, seed, timestamp: o.timestamp ?? new Date() };
}

function joinPath(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/");
}

function writeArchive(path: string, compressed: boolean, level: number, members: [string, NpyParts][]): number {
  const w = NpzWriter.create(path, { compressed, level });
  try {
    for (const [k, v] of members) w.add(k, v);
  } finally {
    w.close();
  }
  return statSync(path).size;
}

/** Writes the whole synthetic tree and returns what was written. */
export function synthesizeStudy(options: SynthOptions): SynthResult {
  const o = checkOptions(options);
  const n = o.size;
  const m = o.positions;
  const rand = mulberry32(o.seed);
  const scene = makeScene(n, m, rand);
  const stamp = isoUtc(o.timestamp);
  const phaseCRoot = joinPath(o.outDir, "phase_c");
  const phaseDRoot = joinPath(o.outDir, "phase_d");
  const frame = n * n;

  // y-split like split_dataset_tool.py: ycoords < min + 0.5 (max - min) -> train.
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const y of scene.ys) {
    ymin = Math.min(ymin, y);
    ymax = Math.max(ymax, y);
  }
  const splitPoint = ymin + 0.5 * (ymax - ymin);
  const splits: Record<SynthSplit, number[]> = { train: [], test: [] };
  scene.ys.forEach((y, i) => {
    splits[y < splitPoint ? "train" : "test"].push(i);
  });

  const probe64 = toComplex64(scene.probe);
  const object64 = toComplex64(scene.object);
  const files: SynthFile[] = [];
  const manifest: { [k: string]: PyJsonValue } = {};
  let maxAmplitude = 0;

  o.doses.forEach((dose, di) => {
    const doseRand = mulberry32((o.seed + 0x9e3779b9 * (di + 1)) >>> 0);
    const amps = noisyAmplitudes(scene, dose, doseRand);
    for (let i = 0; i < amps.length; i++) if (amps[i]! > maxAmplitude) maxAmplitude = amps[i]!;
    const cDir = joinPath(phaseCRoot, doseDirName(dose));
    mkdirSync(cDir, { recursive: true });
    const byName: Record<SynthSplit, SplitData> = {
      train: { idx: splits.train, diffraction: pickRows(amps, frame, splits.train) as Float32Array },
      test: { idx: splits.test, diffraction: pickRows(amps, frame, splits.test) as Float32Array },
    };
    const splitPaths: Record<SynthSplit, string> = { train: "", test: "" };

    for (const split of ["train", "test"] as const) {
      const { idx, diffraction } = byName[split];
      const k = idx.length;
      const xs = Float64Array.from(idx, (i) => scene.xs[i]!);
      const ys = Float64Array.from(idx, (i) => scene.ys[i]!);
      // Singleton ground-truth patch (the first position's object patch), (1, N, N, 1).
      const y0 = new Float32Array(2 * frame);
      const ox = patchOrigin(xs[0]!, n, scene.size);
      const oy = patchOrigin(ys[0]!, n, scene.size);
      for (let r = 0; r < n; r++) y0.set(object64.subarray(2 * ((oy + r) * scene.size + ox), 2 * ((oy + r) * scene.size + ox + n)), 2 * r * n);
      const path = joinPath(cDir, `patched_${split}.npz`);
      splitPaths[split] = path;
      const meta = phaseCMetadata({
        dose,
        n,
        m,
        split,
        parentFile: joinPath(cDir, "patched.npz"),
        splitPoint,
        trainCount: splits.train.length,
        testCount: splits.test.length,
        seed: o.seed,
        timestamp: stamp,
      });
      const members: [string, NpyParts][] = [
        ["diffraction", numericNpy("<f4", [k, n, n], diffraction)],
        ["probeGuess", numericNpy("<c8", [n, n], probe64)],
        ["objectGuess", numericNpy("<c8", [scene.size, scene.size], object64)],
        ["xcoords", numericNpy("<f8", [k], xs)],
        ["ycoords", numericNpy("<f8", [k], ys)],
        ["xcoords_start", numericNpy("<f8", [k], xs)],
        ["ycoords_start", numericNpy("<f8", [k], ys)],
        ["scan_index", numericNpy("<i8", [k], new BigInt64Array(k))],
        ["Y", numericNpy("<c8", [1, n, n, 1], y0)],
        ["_metadata", pickledStringScalarNpy(meta)],
      ];
      const bytes = writeArchive(path, o.compressed, o.deflateLevel, members);
      files.push({ path, phase: "c", dose, view: "baseline", split, positions: k, bytes });

      // Phase D: deterministic subsample of this split per view; per-scan arrays filtered.
      for (const v of PHASE_D_VIEWS) {
        const keep = Math.max(1, pyRound(v.sImg * k));
        const prng = mulberry32(PHASE_D_SEED + di * 7919 + (split === "train" ? 0 : 104729) + (v.view === "dense" ? 0 : 1299709));
        const order = Array.from({ length: k }, (_, i) => i);
        for (let i = 0; i < keep; i++) {
          const j = i + Math.floor(prng() * (k - i));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const sel = order.slice(0, keep).sort((a, b) => a - b);
        const dDir = joinPath(phaseDRoot, doseDirName(dose), v.view);
        mkdirSync(dDir, { recursive: true });
        const dPath = joinPath(dDir, `${split}.npz`);
        const dMeta = pyJsonDump(
          {
            gridsize: v.gridsize,
            s_img: pyFloat(v.sImg),
            n_groups: 512,
            neighbor_count: PHASE_D_NEIGHBORS,
            probe_diameter_px: pyFloat(PROBE_DIAMETER_PX),
            rng_seed_subsample: PHASE_D_SEED,
            metrics_version: "1.0",
            geometry_acceptance_bound: pyFloat(1),
            effective_min_acceptance: pyFloat(v.sImg),
            source_file: path,
            n_accepted: keep,
            n_rejected: k - keep,
          },
          null,
        );
        const dx = pickRows(xs, 1, sel) as Float64Array;
        const dy = pickRows(ys, 1, sel) as Float64Array;
        const dMembers: [string, NpyParts][] = [
          ["diffraction", numericNpy("<f4", [keep, n, n], pickRows(diffraction, frame, sel) as Float32Array)],
          ["probeGuess", numericNpy("<c8", [n, n], probe64)],
          ["objectGuess", numericNpy("<c8", [scene.size, scene.size], object64)],
          ["xcoords", numericNpy("<f8", [keep], dx)],
          ["ycoords", numericNpy("<f8", [keep], dy)],
          ["xcoords_start", numericNpy("<f8", [keep], dx)],
          ["ycoords_start", numericNpy("<f8", [keep], dy)],
          ["scan_index", numericNpy("<i8", [keep], new BigInt64Array(keep))],
          ["Y", numericNpy("<c8", [1, n, n, 1], y0)],
          ["_metadata", unicodeScalarNpy(dMeta)],
        ];
        const dBytes = writeArchive(dPath, o.compressed, o.deflateLevel, dMembers);
        files.push({ path: dPath, phase: "d", dose, view: v.view, split, positions: keep, bytes: dBytes });
      }
    }
    manifest[doseDirName(dose)] = { dose: pyFloat(dose), train: splitPaths.train, test: splitPaths.test, intermediate_dir: cDir };
  });
  writeFileSync(joinPath(phaseCRoot, "run_manifest.json"), pyJsonDump(manifest, 2));

  return {
    outDir: o.outDir,
    phaseCRoot,
    phaseDRoot,
    frameSize: n,
    objectSize: scene.size,
    positions: m,
    doses: [...o.doses],
    compressed: o.compressed,
    seed: o.seed,
    files,
    maxAmplitude,
  };
}
