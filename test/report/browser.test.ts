// Acceptance: `npzguard report` pages opened in a real headless browser (Debian's chromium driven
// by playwright-core). Each page must load with no console error and no network request other
// than the file itself, every picture must render with a non-zero size, and the expected
// sections must be there: a valid DATA-001 file (the contract fixture), and a numpy-written file
// with 100 NaNs in diffraction frame 17 (its finding shown beside that frame).
// Skips only outside CI when /usr/bin/chromium is absent (.ci/run installs it); never in CI.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { buildPrivateDist } from "../helpers/private-dist.js";
import { synthesizeStudy } from "../../src/synth/synth.js";

const CHROMIUM = "/usr/bin/chromium";
const HAVE = existsSync(CHROMIUM);
const IN_CI = !!process.env.CI;
if (!HAVE && IN_CI) throw new Error(`${CHROMIUM} is missing in CI (.ci/run installs the chromium package)`);
const d = HAVE ? describe : describe.skip; // outside CI only: no chromium on this machine

const REPO = path.resolve(".");
let dir = "";
// A 24-frame stack with NaNs in frame 17 and an all-zero frame 5, written by numpy
// (test/fixtures/report/broken.npz, test/fixtures/gen_inputs.py).
const BROKEN = path.join(REPO, "test", "fixtures", "report", "broken.npz");
let dist = "";
let ctx: BrowserContext | null = null;

// The CLI runs as a user runs it: a child process on compiled JS (a private build of the
// current sources, see test/helpers/private-dist.ts).
function runReport(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(dist, "cli", "main.js"), "report", ...args], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

interface PageFacts {
  consoleErrors: string[];
  requests: string[];
  pictures: { kind: string; w: number; h: number; natural: number; alt: string }[];
  headings: string[];
  text: string;
  findingFrames: { caption: string; w: number }[];
}

async function open(file: string): Promise<PageFacts> {
  const page = await ctx!.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => requests.push(r.url()));
  await page.route("**/*", (route) => {
    const u = route.request().url();
    return u === pathToFileURL(file).href ? route.continue() : route.abort();
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  const facts = await page.evaluate(() => {
    const pics = [...document.querySelectorAll("figure.pic img, figure.pic svg")].map((el) => {
      const r = el.getBoundingClientRect();
      return {
        kind: el.tagName.toLowerCase(),
        w: r.width,
        h: r.height,
        natural: el instanceof HTMLImageElement ? el.naturalWidth * (el.complete ? 1 : 0) : 1,
        alt: el.getAttribute("alt") ?? el.getAttribute("aria-label") ?? "",
      };
    });
    const findingFrames = [...document.querySelectorAll("figure.finding-frame")].map((f) => ({
      caption: f.querySelector("figcaption")?.textContent ?? "",
      w: f.querySelector("img")?.getBoundingClientRect().width ?? 0,
    }));
    return { pictures: pics, headings: [...document.querySelectorAll("h2, h3")].map((h) => h.textContent ?? ""), text: document.body.innerText, findingFrames };
  });
  await page.close();
  return { consoleErrors, requests, ...facts };
}

beforeAll(async () => {
  if (!HAVE) return;
  dir = mkdtempSync(path.join(tmpdir(), "npzguard-report-"));
  dist = buildPrivateDist("report-");
  ctx = await chromium.launchPersistentContext(path.join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  await ctx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (dist) rmSync(dist, { recursive: true, force: true });
});

d("npzguard report in headless chromium", () => {
  it("a valid DATA-001 file: verified, every section and picture, offline", async () => {
    const out = path.join(dir, "valid.html");
    const r = runReport([path.join(REPO, "test", "fixtures", "contract", "valid.npz"), "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(out).size).toBeLessThan(2 * 1024 * 1024);
    const f = await open(out);
    expect(f.consoleErrors).toEqual([]);
    expect(f.requests).toEqual([pathToFileURL(out).href]);
    expect(f.headings).toEqual(expect.arrayContaining(["Findings", "Arrays", "_metadata", "Scan positions", "Probe", "Object"]));
    expect(f.headings.some((h) => h.startsWith("Diffraction (diffraction"))).toBe(true);
    expect(f.text).toContain("verified");
    expect(f.text).toMatch(/float32\s+<f4/);
    expect(f.text).toMatch(/complex64\s+<c8/);
    // first frame, median, max energy (may coincide), mean pattern, probe amp+phase, object amp+phase, 2 charts
    expect(f.pictures.length).toBeGreaterThanOrEqual(9);
    for (const p of f.pictures) {
      expect(p.w, p.alt).toBeGreaterThan(0);
      expect(p.h, p.alt).toBeGreaterThan(0);
      expect(p.natural, p.alt).toBeGreaterThan(0);
    }
  }, 120_000);

  it("a broken file: NaNs in frame 17 and a zero frame 5 are shown beside those frames; exit 1", async () => {
    const out = path.join(dir, "broken.html");
    const r = runReport([BROKEN, "--out", out]);
    expect(r.status, r.stderr).toBe(1);
    const html = readFileSync(out, "utf8");
    expect(html).not.toContain("test<script>"); // metadata text is escaped
    const f = await open(out);
    expect(f.consoleErrors).toEqual([]);
    expect(f.requests).toEqual([pathToFileURL(out).href]);
    expect(f.text).toContain("failed");
    expect(f.text).toContain("diffraction: 100 non-finite values in 1 frame: 17");
    expect(f.text).toContain("diffraction: 1 zero-energy frame (every value 0): 5");
    const at17 = f.findingFrames.find((x) => x.caption.startsWith("frame 17"));
    expect(at17?.caption).toContain("diffraction: 100 non-finite values in 1 frame: 17");
    expect(at17?.w).toBeGreaterThan(0);
    const at5 = f.findingFrames.find((x) => x.caption.startsWith("frame 5"));
    expect(at5?.caption).toContain("zero-energy");
    for (const p of f.pictures) expect(p.w * p.h * p.natural, p.alt).toBeGreaterThan(0);
  }, 120_000);

  it("a synthetic study with one blocked and one skipped job: matrix states, links, file sections", async () => {
    const root = path.join(dir, "study");
    synthesizeStudy({ outDir: root, positions: 64, size: 64 });
    rmSync(path.join(root, "phase_d", "dose_10000", "sparse"), { recursive: true }); // -> skipped
    const bad = path.join(root, "phase_d", "dose_1000", "dense", "train.npz");
    execFileSync("python3", [
      "-c",
      String.raw`
import numpy as np, sys
z = dict(np.load(sys.argv[1], allow_pickle=True)); d = z["diffraction"].copy(); d[3].reshape(-1)[:50] = np.nan; z["diffraction"] = d
np.savez_compressed(sys.argv[1], **z)
`,
      bad,
    ]);
    const out = path.join(dir, "study.html");
    const r = runReport([
      "--phase-c-root",
      path.join(root, "phase_c"),
      "--phase-d-root",
      path.join(root, "phase_d"),
      "--artifact-root",
      path.join(root, "art"),
      "--n-groups",
      "4",
      "--out",
      out,
    ]);
    expect(r.status, r.stderr).toBe(1);
    const page = await ctx!.newPage();
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("request", (q) => requests.push(q.url()));
    await page.goto(pathToFileURL(out).href, { waitUntil: "load" });
    const m = await page.evaluate(() => {
      const cells = [...document.querySelectorAll("table.matrix td")].map((td) => ({
        cls: td.className,
        text: (td as HTMLElement).innerText,
        links: [...td.querySelectorAll("a")].map((a) => a.getAttribute("href")!),
      }));
      const ids = [...document.querySelectorAll("section.file")].map((s) => s.id);
      const pics = [...document.querySelectorAll("figure.pic img, figure.pic svg")].map(
        (el) => el.getBoundingClientRect().width * el.getBoundingClientRect().height,
      );
      return { cells, ids, pics };
    });
    await page.close();
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(out).href]);
    const blocked = m.cells.filter((c) => c.cls === "st-blocked");
    const skipped = m.cells.filter((c) => c.cls === "st-skipped");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]!.text).toContain(bad);
    expect(blocked[0]!.text).toContain("data001/diffraction-finite");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.text).toContain("NPZ files not found");
    expect(m.cells.filter((c) => c.cls === "st-verified").length).toBe(7); // 9 jobs - 1 skipped view - 1 blocked
    for (const c of m.cells) for (const href of c.links) expect(m.ids).toContain(href.slice(1));
    expect(m.pics.length).toBeGreaterThan(0);
    for (const a of m.pics) expect(a).toBeGreaterThan(0);
  }, 180_000);
});
