// npyjs + jszip reference side of the bench (see bench/README.md): what a JS user does without
// npzguard.
//   node bench/ref_jszip.mjs check FILE        JSZip.loadAsync(readFileSync(FILE), {checkCRC32:
//                                              true}) + npyjs parse of every member + the same
//                                              value checks as ref_numpy.py; prints one JSON line
//   node bench/ref_jszip.mjs array FILE RUNS   in-process: best of RUNS of readFileSync +
//                                              JSZip.loadAsync + parse of "diffraction"
import { readFileSync } from "node:fs";
import JSZip from "jszip";
import { parse } from "npyjs";

async function loadAll(path) {
  const zip = await JSZip.loadAsync(readFileSync(path), { checkCRC32: true });
  const out = {};
  for (const name of Object.keys(zip.files)) {
    const entry = zip.files[name];
    if (entry.dir || !name.endsWith(".npy")) continue;
    out[name.slice(0, -4)] = parse(await entry.async("arraybuffer"));
  }
  return out;
}

function allFinite(a) {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function valueChecks(data) {
  const d = data.diffraction.data;
  let nonFinite = 0;
  let negative = 0;
  let zero = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < 0) negative++;
    else if (v === 0) zero++;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const finite = d.length - nonFinite;
  const p = data.probeGuess.data; // c8: interleaved re, im
  let energy = 0;
  for (let i = 0; i < p.length; i++) energy += p[i] * p[i];
  const out = {
    diffractionElements: d.length,
    diffractionNonFinite: nonFinite,
    diffractionNegative: negative,
    diffractionZero: zero,
    diffractionMin: finite ? min : null,
    diffractionMax: finite ? max : null,
    diffractionMean: finite ? sum / finite : null,
    probeFinite: allFinite(p),
    probeEnergy: energy,
    objectFinite: allFinite(data.objectGuess.data),
    coordsFinite: ["xcoords", "ycoords"].every((k) => !data[k] || allFinite(data[k].data)),
  };
  out.ok =
    out.diffractionNonFinite === 0 &&
    out.diffractionNegative === 0 &&
    out.diffractionZero < out.diffractionElements &&
    out.probeFinite &&
    out.probeEnergy > 0 &&
    out.objectFinite &&
    out.coordsFinite;
  return out;
}

async function main() {
  const [mode, path, runsText] = process.argv.slice(2);
  if (mode === "check") {
    const data = await loadAll(path);
    process.stdout.write(JSON.stringify(valueChecks(data)) + "\n");
  } else if (mode === "array") {
    const runs = Number(runsText);
    let best = Infinity;
    let bytes = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      const zip = await JSZip.loadAsync(readFileSync(path));
      const a = parse(await zip.file("diffraction.npy").async("arraybuffer"));
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      bytes = a.data.byteLength;
      best = Math.min(best, dt);
    }
    process.stdout.write(JSON.stringify({ seconds: best, bytes, runs }) + "\n");
  } else {
    throw new Error("usage: ref_jszip.mjs check FILE | array FILE RUNS");
  }
}

await main();
