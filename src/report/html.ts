// `npzguard report`: one self-contained HTML page per run (issue 13). Everything is inlined:
// pictures are PNG data URIs (pngjs) or inline SVG drawn here, styles are inline, there is no
// script, and a Content-Security-Policy meta tag forbids any fetch (default-src 'none'), so the
// page opens offline and makes no network request of any kind.
// Frames come from the native reader through row reads (rowSet: one pass over the member,
// stopping at the last frame needed) and the per-frame totals and mean pattern from one
// streaming pass (rowProfile); diffraction is never loaded whole.
// Over 400 lines: the sections of one HTML document (file verdict, key table, metadata tree,
// pictures) share its escaping and layout helpers; number/size formatting is in format.ts and the
// study matrix page in study.ts.
import { PNG } from "pngjs";
import { checkFile } from "../contract/check.js";
import type { CheckOptions, Report, Violation } from "../contract/types.js";
import { openNpz, type NpzFile } from "../npz.js";
import type { ArrayData, ArrayStats, MemberInfo, RowProfile } from "../types.js";
import { escapeControls, escapeHtml, humanSize } from "./format.js";

export { escapeControls, escapeHtml, humanSize };

export interface HtmlReportOptions extends CheckOptions {
  /** Largest side of an inlined image in pixels (default 256; frames are downsampled). */
  maxImageSide?: number;
  /** Most frames a finding may add to the pictures (default 8). */
  maxFindingFrames?: number;
}

export interface HtmlReportResult {
  html: string;
  reports: Report[];
}

/** A finding computed from the per-frame profile, pointing at frames. */
export interface FrameFinding {
  key: string;
  kind: "non-finite" | "zero-energy" | "negative";
  message: string;
  frames: number[]; // first offending frames (at most 8)
  frameCount: number;
}

const DIFFRACTION_KEYS = ["diffraction", "diff3d"];

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : v.toPrecision(5);
}

function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ---- images ---------------------------------------------------------------------------------

// Viridis anchors (matplotlib's colormap at 0, .25, .5, .75, 1), linearly interpolated.
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function colormap(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// Phase colours: a hue wheel (HSV with full saturation/value).
function hue(t: number): [number, number, number] {
  const h = (((t % 1) + 1) % 1) * 6;
  const c = 255;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const k = Math.floor(h);
  return ([
    [c, x, 0],
    [x, c, 0],
    [0, c, x],
    [0, x, c],
    [x, 0, c],
    [c, 0, x],
  ][k] ?? [c, 0, 0]) as [number, number, number];
}

/**
 * PNG data URI of a h x w image given by value(i) (row-major), downsampled by striding to at
 * most maxSide per side. Non-finite values are drawn magenta. mode "log": log10(1 + max(v, 0))
 * scaled to [0, max]; "linear": [min, max]; "phase": values in [-pi, pi] on a hue wheel.
 */
export function imageUri(h: number, w: number, value: (i: number) => number, mode: "log" | "linear" | "phase", maxSide: number): string {
  const step = Math.max(1, Math.ceil(Math.max(h, w) / maxSide));
  const oh = Math.max(1, Math.ceil(h / step));
  const ow = Math.max(1, Math.ceil(w / step));
  const vals = new Float64Array(oh * ow);
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let v = value(y * step * w + x * step);
      if (mode === "log" && Number.isFinite(v)) v = Math.log10(1 + Math.max(0, v));
      vals[y * ow + x] = v;
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  if (mode === "log") lo = 0;
  const span = hi > lo ? hi - lo : 1;
  const png = new PNG({ width: ow, height: oh });
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i]!;
    const rgb: [number, number, number] = !Number.isFinite(v)
      ? [255, 0, 255]
      : mode === "phase"
        ? hue((v + Math.PI) / (2 * Math.PI))
        : colormap((v - lo) / span);
    png.data[i * 4] = rgb[0];
    png.data[i * 4 + 1] = rgb[1];
    png.data[i * 4 + 2] = rgb[2];
    png.data[i * 4 + 3] = 255;
  }
  return "data:image/png;base64," + PNG.sync.write(png).toString("base64");
}

function numeric(data: ArrayData): (i: number) => number {
  if (Array.isArray(data)) return () => NaN;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return (i) => Number(data[i]);
  const d = data as Exclude<ArrayData, string[] | BigInt64Array | BigUint64Array>;
  return (i) => d[i]!;
}

function img(uri: string, alt: string, caption: string, cls = ""): string {
  return `<figure class="pic ${cls}"><img src="${uri}" alt="${escapeHtml(alt)}"><figcaption>${caption}</figcaption></figure>`;
}

// ---- SVG charts -----------------------------------------------------------------------------

function svgScatter(xs: ArrayLike<number>, ys: ArrayLike<number>, start: { x: ArrayLike<number>; y: ArrayLike<number> } | null, title: string): string {
  const n = Math.min(xs.length, ys.length);
  const W = 320;
  const H = 320;
  const P = 28;
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  const span = (a: ArrayLike<number>, m: number) => {
    for (let i = 0; i < m; i++) {
      const v = a[i]!;
      if (Number.isFinite(v)) {
        if (a === xs || (start && a === start.x)) {
          x0 = Math.min(x0, v);
          x1 = Math.max(x1, v);
        } else {
          y0 = Math.min(y0, v);
          y1 = Math.max(y1, v);
        }
      }
    }
  };
  span(xs, n);
  span(ys, n);
  if (start) {
    span(start.x, Math.min(start.x.length, n));
    span(start.y, Math.min(start.y.length, n));
  }
  if (!(x1 >= x0)) {
    x0 = 0;
    x1 = 1;
  }
  if (!(y1 >= y0)) {
    y0 = 0;
    y1 = 1;
  }
  const sx = (v: number) => P + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const sy = (v: number) => H - P - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * P);
  const stride = Math.max(1, Math.ceil(n / 4000));
  const parts: string[] = [];
  if (start) {
    for (let i = 0; i < n; i += stride) {
      const a = start.x[i]!,
        b = start.y[i]!;
      if (Number.isFinite(a) && Number.isFinite(b)) parts.push(`<circle cx="${sx(a).toFixed(1)}" cy="${sy(b).toFixed(1)}" r="2" fill="none" stroke="#999"/>`);
    }
  }
  for (let i = 0; i < n; i += stride) {
    const a = xs[i]!,
      b = ys[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    const [r, g, bl] = colormap(n > 1 ? i / (n - 1) : 0);
    parts.push(`<circle cx="${sx(a).toFixed(1)}" cy="${sy(b).toFixed(1)}" r="1.8" fill="rgb(${r | 0},${g | 0},${bl | 0})"/>`);
  }
  return (
    `<figure class="pic chart"><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>` +
    parts.join("") +
    `<text x="${P}" y="${H - 8}" font-size="10">x ${fmt(x0)} … ${fmt(x1)}</text><text x="4" y="14" font-size="10">y ${fmt(y0)} … ${fmt(y1)}</text>` +
    `</svg><figcaption>${escapeHtml(title)} (colour: scan index 0 → ${n - 1}${start ? "; grey rings: *_start" : ""})</figcaption></figure>`
  );
}

function svgSeries(values: Float64Array, marks: { frames: Set<number>; colour: string }[], title: string): string {
  const n = values.length;
  const W = 640;
  const H = 200;
  const P = 30;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(hi >= lo)) {
    lo = 0;
    hi = 1;
  }
  const sx = (i: number) => P + (n > 1 ? (i / (n - 1)) * (W - 2 * P) : 0);
  const sy = (v: number) => H - P - ((v - lo) / (hi - lo || 1)) * (H - 2 * P);
  // Min/max per pixel column keeps spikes and dips visible at any length.
  const cols = Math.min(n, W - 2 * P);
  const pts: string[] = [];
  for (let c = 0; c < cols; c++) {
    const a = Math.floor((c * n) / cols);
    const b = Math.max(a + 1, Math.floor(((c + 1) * n) / cols));
    let mn = Infinity,
      mx = -Infinity;
    for (let i = a; i < b; i++) {
      const v = values[i]!;
      if (Number.isFinite(v)) {
        mn = Math.min(mn, v);
        mx = Math.max(mx, v);
      }
    }
    if (mn <= mx) pts.push(`${sx(a).toFixed(1)},${sy(mn).toFixed(1)} ${sx(a).toFixed(1)},${sy(mx).toFixed(1)}`);
  }
  const markSvg = marks
    .flatMap((m) =>
      [...m.frames]
        .slice(0, 200)
        .map((f) => `<line x1="${sx(f).toFixed(1)}" x2="${sx(f).toFixed(1)}" y1="${P}" y2="${H - P}" stroke="${m.colour}" stroke-width="1.5"/>`),
    )
    .join("");
  return (
    `<figure class="pic chart wide"><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>${markSvg}` +
    `<polyline fill="none" stroke="#1f4e99" stroke-width="1" points="${pts.join(" ")}"/>` +
    `<text x="4" y="12" font-size="10">${fmt(hi)}</text><text x="4" y="${H - P + 4}" font-size="10">${fmt(lo)}</text>` +
    `<text x="${P}" y="${H - 8}" font-size="10">frame 0</text><text x="${W - P - 50}" y="${H - 8}" font-size="10">frame ${n - 1}</text>` +
    `</svg><figcaption>${escapeHtml(title)} (red: zero-energy frames, magenta: frames with NaN/Inf)</figcaption></figure>`
  );
}

// ---- per file -------------------------------------------------------------------------------

/** Findings that point at frames, from a per-frame profile of member key. */
export function frameFindings(key: string, p: RowProfile): FrameFinding[] {
  const out: FrameFinding[] = [];
  const add = (kind: FrameFinding["kind"], perFrame: (i: number) => number, what: string) => {
    const frames: number[] = [];
    let total = 0;
    let count = 0;
    for (let i = 0; i < p.sum.length; i++) {
      const c = perFrame(i);
      if (c > 0) {
        total += c;
        count++;
        if (frames.length < 8) frames.push(i);
      }
    }
    if (count === 0) return;
    const list = frames.join(", ") + (count > frames.length ? ", ..." : "");
    const message =
      kind === "zero-energy"
        ? `${key}: ${plural(count, "zero-energy frame")} (every value 0): ${list}`
        : `${key}: ${total} ${what} in ${plural(count, "frame")}: ${list}`;
    out.push({ key, kind, message, frames, frameCount: count });
  };
  add("non-finite", (i) => p.nonfinite[i]!, "non-finite values");
  add("zero-energy", (i) => (p.nonzero[i] === 0 ? 1 : 0), "");
  add("negative", (i) => p.negative[i]!, "negative values");
  return out;
}

function groupViolations(vs: readonly Violation[]): { v: Violation; count: number }[] {
  const out = new Map<string, { v: Violation; count: number }>();
  for (const v of vs) {
    const k = `${v.severity}\u0000${v.rule}\u0000${v.message}`;
    const g = out.get(k);
    if (g) g.count++;
    else out.set(k, { v, count: 1 });
  }
  return [...out.values()];
}

function findingsHtml(r: Report, frameF: FrameFinding[]): string {
  const groups = groupViolations(r.violations);
  const li = (g: { v: Violation; count: number }) =>
    `<li class="sev-${g.v.severity}"><b>${g.v.severity}</b> <code>${escapeHtml(g.v.rule)}</code> ${escapeHtml(escapeControls(g.v.message))}${g.count > 1 ? ` <i>(×${g.count})</i>` : ""}${g.v.hint ? `<br><small>${escapeHtml(g.v.hint)}</small>` : ""}</li>`;
  const main = groups.filter((g) => g.v.severity !== "info");
  const info = groups.filter((g) => g.v.severity === "info");
  let html = `<h3>Findings</h3>`;
  html +=
    main.length || frameF.length
      ? `<ul class="findings">${main.map(li).join("")}${frameF.map((f) => `<li class="sev-frame"><b>frames</b> ${escapeHtml(f.message)}</li>`).join("")}</ul>`
      : `<p>No errors or warnings.</p>`;
  if (info.length)
    html += `<details class="info"><summary>${plural(
      info.reduce((a, g) => a + g.count, 0),
      "info note",
    )}</summary><ul>${info.map(li).join("")}</ul></details>`;
  if (r.notEvaluated.length)
    html += `<details><summary>not evaluated (${r.notEvaluated.length})</summary><p>${r.notEvaluated.map(escapeHtml).join(", ")}</p></details>`;
  return html;
}

function statsCells(s: ArrayStats | null | undefined): string {
  if (!s || s.components.length === 0) return `<td colspan="6">–</td>`;
  const c = s.components;
  const sum = (f: (x: (typeof c)[number]) => number) => c.reduce((a, x) => a + f(x), 0);
  const min = c.length === 1 ? c[0]!.min : null;
  const max = c.length === 1 ? c[0]!.max : null;
  const fin = c[0]!.finite;
  const mean = c.length === 1 ? (fin ? c[0]!.sum / fin : null) : fin ? Math.sqrt(s.sumAbs2 / fin) : null;
  return `<td>${fmt(min)}</td><td>${fmt(max)}</td><td>${fmt(mean)}${c.length > 1 ? " (rms |z|)" : ""}</td><td>${sum((x) => x.nan)}</td><td>${sum((x) => x.posInf + x.negInf)}</td><td>${c.length === 1 ? c[0]!.zero : "–"}</td>`;
}

function keyTable(members: MemberInfo[], r: Report): string {
  const rows = members.map((m) => {
    const h = m.header;
    const name = escapeHtml(escapeControls(m.key));
    if (!h)
      return `<tr><td><code>${name}</code></td><td colspan="12">${escapeHtml(m.error ? `${m.error.code}: ${escapeControls(m.error.message)}` : "not an NPY array")}</td></tr>`;
    return (
      `<tr><td><code>${name}</code></td><td>${escapeHtml(h.dtypeName)} <code>${escapeHtml(h.descr)}</code></td><td>(${h.shape.join(", ")})</td><td>${h.fortranOrder ? "F" : "C"}</td>` +
      `<td>${m.compression}</td><td>${humanSize(m.uncompressedSize)}</td><td>${humanSize(m.compressedSize)}</td>${statsCells(r.stats[m.key])}</tr>`
    );
  });
  return `<h3>Arrays</h3><table class="keys"><thead><tr><th>key</th><th>dtype</th><th>shape</th><th>order</th><th>compression</th><th>size</th><th>stored</th><th>min</th><th>max</th><th>mean</th><th>NaN</th><th>Inf</th><th>zeros</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function metadataTree(v: unknown, depth = 0): string {
  if (depth > 8) return "…";
  if (v === null || typeof v !== "object") return `<code>${escapeHtml(JSON.stringify(v) ?? String(v))}</code>`;
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as Record<string, unknown>);
  return `<ul class="tree">${entries
    .slice(0, 200)
    .map(([k, x]) => `<li><b>${escapeHtml(escapeControls(k))}</b>: ${metadataTree(x, depth + 1)}</li>`)
    .join("")}${entries.length > 200 ? "<li>…</li>" : ""}</ul>`;
}

/** @internal Amplitude/phase accessors of a 2-D member (or the first patch of a 3-D one), sampled by rows. */
export function real2d(
  npz: NpzFile,
  key: string,
  maxSide: number,
): { h: number; w: number; amp: (i: number) => number; phase: ((i: number) => number) | null } | null {
  const hd = npz.header(key);
  if (!hd.supported || hd.fortranOrder || !["f", "c", "i", "u"].includes(hd.kind)) return null;
  // A 3-D member (e.g. ground-truth patches): its first patch, by row read. A 2-D image larger
  // than the picture: only the rows the picture samples (rowSet), with imageUri's own stride.
  const dims = hd.shape.length;
  if (dims < 2 || dims > 3) return null;
  const h = hd.shape[dims - 2]!;
  const w = hd.shape[dims - 1]!;
  const step = Math.max(1, Math.ceil(Math.max(h, w) / maxSide));
  let v: (i: number) => number;
  if (dims === 3) {
    v = numeric(npz.array(key, { rows: [0, 1] }).data);
  } else if (step > 1) {
    const rows = Array.from({ length: Math.ceil(h / step) }, (_, k) => k * step);
    const sub = numeric(npz.rowSet(key, rows).data);
    const per = hd.kind === "c" ? 2 : 1;
    // Full-grid element index i -> the same element in the sampled rows (only rows k*step are asked for).
    v = (j) => {
      const i = Math.floor(j / per);
      const y = Math.floor(i / w);
      return sub(((y / step) * w + (i % w)) * per + (j % per));
    };
  } else {
    v = numeric(npz.array(key).data);
  }
  if (hd.kind === "c") {
    return { h, w, amp: (i) => Math.hypot(v(2 * i), v(2 * i + 1)), phase: (i) => Math.atan2(v(2 * i + 1), v(2 * i)) };
  }
  return { h, w, amp: v, phase: null };
}

export interface FileSection {
  html: string;
  report: Report;
}

/** @internal One file's section; `precomputed`: a report already made (the study's pre-flight). */
export async function fileSection(path: string, id: string, options: HtmlReportOptions, precomputed?: Report): Promise<FileSection> {
  const maxSide = options.maxImageSide ?? 256;
  const report = precomputed ?? (await checkFile(path, options));
  const verdict = report.readError ? "unreadable" : report.ok ? "verified" : "failed";
  let html = `<section class="file" id="${id}"><h2>${escapeHtml(escapeControls(path))} <span class="verdict v-${verdict}">${verdict}</span></h2>`;
  html += `<p>profile ${report.profile}; reference gate: <b>${report.referenceVerdict.status}</b>${report.referenceVerdict.error ? ` — ${escapeHtml(report.referenceVerdict.error)}` : ""}</p>`;
  if (report.readError) {
    html += `<p class="sev-error">${escapeHtml(report.readError.code)}: ${escapeHtml(escapeControls(report.readError.message))}</p>${findingsHtml(report, [])}</section>`;
    return { html, report };
  }
  let npz: NpzFile;
  try {
    npz = openNpz(path);
  } catch (e) {
    html += `<p class="sev-error">${escapeHtml(String(e))}</p></section>`;
    return { html, report };
  }
  try {
    const members = npz.members();
    const has = (k: string) => members.some((m) => m.key === k && m.header !== null && m.error === null);
    const pics: string[] = [];
    let frameF: FrameFinding[] = [];
    // Scan positions.
    if (has("xcoords") && has("ycoords")) {
      try {
        const xs = numeric(npz.array("xcoords").data);
        const ys = numeric(npz.array("ycoords").data);
        const n = npz.header("xcoords").count;
        const arr = (f: (i: number) => number, m: number) => Float64Array.from({ length: m }, (_, i) => f(i));
        const start =
          has("xcoords_start") && has("ycoords_start")
            ? {
                x: arr(numeric(npz.array("xcoords_start").data), npz.header("xcoords_start").count),
                y: arr(numeric(npz.array("ycoords_start").data), npz.header("ycoords_start").count),
              }
            : null;
        pics.push(
          `<div class="group"><h3>Scan positions</h3>${svgScatter(arr(xs, n), arr(ys, Math.min(n, npz.header("ycoords").count)), start, "scan positions (xcoords, ycoords)")}</div>`,
        );
      } catch (e) {
        pics.push(`<p class="sev-warning">scan positions not drawn: ${escapeHtml(String(e))}</p>`);
      }
    }
    // Diffraction frames.
    const dkey = DIFFRACTION_KEYS.find((k) => has(k) && npz.header(k).shape.length === 3);
    if (dkey) {
      const hd = npz.header(dkey);
      try {
        const prof = npz.rowProfile(dkey);
        frameF = frameFindings(dkey, prof);
        const n = prof.sum.length;
        const [fh, fw] = [hd.shape[1]!, hd.shape[2]!];
        const order = [...Array(n).keys()].sort((a, b) => prof.sum[a]! - prof.sum[b]!);
        const labels = new Map<number, string[]>();
        const label = (f: number | undefined, s: string) => {
          if (f === undefined) return;
          labels.set(f, [...(labels.get(f) ?? []), s]);
        };
        if (n > 0) {
          label(0, "first frame");
          label(order[Math.floor((n - 1) / 2)], "median energy");
          label(order[n - 1], "max energy");
        }
        const maxF = options.maxFindingFrames ?? 8;
        for (const f of frameF) for (const fr of f.frames.slice(0, maxF)) label(fr, f.message);
        const picks = [...labels.keys()].sort((a, b) => a - b);
        const frames = picks.length ? npz.rowSet(dkey, picks) : null;
        const per = fh * fw;
        const v = frames ? numeric(frames.data) : () => NaN;
        const framePics = picks.map((fr, j) => {
          const ls = labels.get(fr)!;
          const isFinding = ls.some((l) => l.startsWith(dkey + ":"));
          const cap = `frame ${fr} — energy ${fmt(prof.sum[fr]!)}<br>${ls.map((l) => (l.startsWith(dkey + ":") ? `<span class="finding">${escapeHtml(l)}</span>` : escapeHtml(l))).join("<br>")}`;
          return img(
            imageUri(fh, fw, (i) => v(j * per + i), "log", maxSide),
            `${dkey} frame ${fr}`,
            cap,
            isFinding ? "frame finding-frame" : "frame",
          );
        });
        let mean = "";
        if (prof.colSum.length === per && n > 0) {
          mean = img(
            imageUri(fh, fw, (i) => prof.colSum[i]! / n, "log", maxSide),
            "mean pattern",
            `mean pattern over ${n} frames (log scale)`,
          );
        }
        const zero = new Set<number>();
        const bad = new Set<number>();
        for (let i = 0; i < n; i++) {
          if (prof.nonzero[i] === 0) zero.add(i);
          if (prof.nonfinite[i]! > 0) bad.add(i);
        }
        pics.push(
          `<div class="group"><h3>Diffraction (${escapeHtml(dkey)}, log scale)</h3><div class="row">${framePics.join("")}${mean}</div>` +
            svgSeries(
              prof.sum,
              [
                { frames: zero, colour: "#d00" },
                { frames: bad, colour: "#d0d" },
              ],
              "total intensity per frame",
            ) +
            `</div>`,
        );
      } catch (e) {
        pics.push(`<p class="sev-warning">diffraction not drawn: ${escapeHtml(String(e))}</p>`);
      }
    }
    // Probe, object, one ground-truth patch.
    for (const [key, title] of [
      ["probeGuess", "Probe"],
      ["objectGuess", "Object"],
      ["Y", "Ground truth (first patch)"],
      ["ground_truth_patches", "Ground truth (first patch)"],
    ] as const) {
      if (!has(key)) continue;
      try {
        const im = real2d(npz, key, maxSide);
        if (!im) continue;
        const a = img(imageUri(im.h, im.w, im.amp, "linear", maxSide), `${key} amplitude`, `${escapeHtml(key)} amplitude`);
        const p = im.phase ? img(imageUri(im.h, im.w, im.phase, "phase", maxSide), `${key} phase`, `${escapeHtml(key)} phase`) : "";
        pics.push(`<div class="group"><h3>${title}</h3><div class="row">${a}${p}</div></div>`);
      } catch (e) {
        pics.push(`<p class="sev-warning">${escapeHtml(key)} not drawn: ${escapeHtml(String(e))}</p>`);
      }
    }
    html += findingsHtml(report, frameF);
    html += keyTable(members, report);
    if (report.metadata !== undefined) html += `<h3>_metadata</h3><div class="meta">${metadataTree(report.metadata)}</div>`;
    html += pics.join("");
  } finally {
    npz.close();
  }
  html += `</section>`;
  return { html, report };
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h2{border-bottom:2px solid #ccc}code{font-size:12px}
.verdict{font-size:13px;padding:2px 8px;border-radius:4px;color:#fff}.v-verified{background:#2a7}.v-failed{background:#c33}.v-unreadable{background:#833}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;font-size:12px;text-align:left}
.sev-error{color:#b00}.sev-warning{color:#a60}.sev-frame{color:#808}.finding{color:#b00;font-weight:bold}
.row{display:flex;flex-wrap:wrap;gap:10px}figure{margin:4px}figure img{image-rendering:pixelated;width:192px;border:1px solid #ccc}
.finding-frame img{border:3px solid #d00}figcaption{font-size:11px;max-width:260px}ul.tree{margin:0;padding-left:1.2em}
.matrix td{text-align:center;vertical-align:top}.st-verified{background:#e6f6ec}.st-blocked{background:#fbe4e4}.st-skipped{background:#eee}`;

/** The whole page for already-built sections (also used by the study form). */
export function page(title: string, body: string): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>\n`
  );
}

/** Checks every file and renders the report page (files in the order given). */
export async function renderHtmlReport(files: readonly string[], options: HtmlReportOptions = {}): Promise<HtmlReportResult> {
  const sections: FileSection[] = [];
  for (let i = 0; i < files.length; i++) sections.push(await fileSection(files[i]!, `file-${i}`, options));
  const summary =
    `<table class="summary"><thead><tr><th>file</th><th>verdict</th><th>errors</th><th>warnings</th></tr></thead><tbody>` +
    sections
      .map((s, i) => {
        const r = s.report;
        const verdict = r.readError ? "unreadable" : r.ok ? "verified" : "failed";
        const count = (sev: string) => r.violations.filter((v) => v.severity === sev).length;
        return `<tr><td><a href="#file-${i}">${escapeHtml(escapeControls(r.path))}</a></td><td><span class="verdict v-${verdict}">${verdict}</span></td><td>${count("error")}</td><td>${count("warning")}</td></tr>`;
      })
      .join("") +
    `</tbody></table>`;
  return { html: page("npzguard report", summary + sections.map((s) => s.html).join("")), reports: sections.map((s) => s.report) };
}
