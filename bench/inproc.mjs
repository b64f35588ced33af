// npzguard in-process timings (run in a child of bench/run.mjs; prints one JSON line).
//   node bench/inproc.mjs headers FILE RUNS   best of RUNS of openNpz + header() of every member
//                                             + close
//   node bench/inproc.mjs array FILE RUNS     best of RUNS of openNpz + array("diffraction")
//                                             (default: zero-copy when possible) and, separately,
//                                             openNpz + array("diffraction", {copy: true})
//   node bench/inproc.mjs memcpy BYTES RUNS   best of RUNS of copying BYTES into a new buffer
// Every timed array is touched (sum of a strided sample) after the clock stops, to check it
// holds the data; the clock covers open + read (close happens after).
import { openNpz } from "../dist/index.js";

const [mode, path, runsText] = process.argv.slice(2);
const runs = Number(runsText);
const now = () => process.hrtime.bigint();
const secs = (t0) => Number(now() - t0) / 1e9;

function sample(data) {
  let s = 0;
  for (let i = 0; i < data.length; i += 4099) s += data[i];
  return s;
}

if (mode === "headers") {
  let best = Infinity;
  let members = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = now();
    const f = openNpz(path);
    const keys = f.keys();
    for (const k of keys) f.header(k);
    f.close();
    best = Math.min(best, secs(t0));
    members = keys.length;
  }
  process.stdout.write(JSON.stringify({ seconds: best, members, runs }) + "\n");
} else if (mode === "array") {
  const measure = (options) => {
    let best = Infinity;
    let zeroCopy = null;
    let bytes = 0;
    let check = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = now();
      const f = openNpz(path);
      const a = f.array("diffraction", options);
      const dt = secs(t0);
      zeroCopy = a.zeroCopy;
      bytes = a.data.byteLength;
      check = sample(a.data);
      f.close();
      best = Math.min(best, dt);
    }
    return { seconds: best, bytes, zeroCopy, check };
  };
  const auto = measure(undefined);
  const copy = measure({ copy: true });
  process.stdout.write(JSON.stringify({ auto, copy, runs }) + "\n");
} else if (mode === "memcpy") {
  // Machine context for A2: copy BYTES (the FILE argument) from a filled buffer into a freshly
  // allocated one, as a forced-copy read must (page faults of the new buffer included).
  const bytes = Number(path);
  const src = new Uint8Array(bytes).fill(7);
  let best = Infinity;
  let check = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = now();
    const dst = new Uint8Array(bytes);
    dst.set(src);
    best = Math.min(best, secs(t0));
    check += dst[bytes - 1];
  }
  process.stdout.write(JSON.stringify({ seconds: best, bytes, runs, check }) + "\n");
} else {
  throw new Error("usage: inproc.mjs headers|array FILE RUNS | memcpy BYTES RUNS");
}
