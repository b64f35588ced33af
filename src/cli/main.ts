#!/usr/bin/env node
// npzguard CLI entry: dispatches to one module per subcommand (src/cli/<command>.ts).
// Exit codes (stable): 0 ok, 1 contract violations / blocked jobs, 2 usage error,
// 3 unreadable or malformed input, 70 internal error (a bug in npzguard).
import type { ThreadInfo } from "../build-info.js";
import { EXIT, UsageError, exitCodeFor, jsonText, printUsageError } from "./common.js";

// bin/npzguard moved NODE_EXTRA_CA_CERTS aside so Node would not parse a certificate bundle this
// tool never uses; put it back before anything can spawn a child (trainer, sbatch, ...).
if (process.env.NPZGUARD_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.NPZGUARD_NODE_EXTRA_CA_CERTS;
  delete process.env.NPZGUARD_NODE_EXTRA_CA_CERTS;
}

type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  inspect: { summary: "list the arrays of .npz/.npy files (dtype, shape, order, compression, sizes)", load: () => import("./inspect.js") },
  check: { summary: "check files against the DATA-001 contract (values, CRC, layout)", load: () => import("./check.js") },
  report: { summary: "write one self-contained HTML page with findings, tables and pictures of files", load: () => import("./report.js") },
  fix: { summary: "apply the remedies for a file's fixable findings, then check the result", load: () => import("./fix.js") },
  repack: { summary: "rewrite an archive with aligned (zero-copy mappable) STORED members", load: () => import("./repack.js") },
  plan: { summary: "enumerate the study's training jobs and verify every dataset", load: () => import("./plan.js") },
  run: { summary: "verify, then hand verified jobs to the trainer (local GPU pool or Slurm)", load: () => import("./run.js") },
  status: { summary: "refresh and print the hand-off record of an artifact root", load: () => import("./status.js") },
  synth: { summary: "write a small, valid synthetic Phase C/D study tree", load: () => import("./synth.js") },
  demo: { summary: "synthesize a small study, check it, plan it and dry-run the hand-off", load: () => import("./demo.js") },
};

const VERSION_HELP = `Usage: npzguard --version [--verbose] [--json]

  --verbose   also print Node and N-API versions, the native addon's path, whether it is the
              prebuilt binary or a local build, the CRC-32 / inflate implementations in use, and
              the default thread count with what decided it (affinity mask, cgroup CPU quota,
              or the machine's CPUs)
  --json      the same as JSON (schemas/version.schema.json)`;

function threadsLine(t: ThreadInfo): string {
  const cpus = (n: number) => `${n} CPU${n === 1 ? "" : "s"}`;
  const machine = t.hardware === null ? "the machine's CPUs unknown" : `the machine has ${cpus(t.hardware)}`;
  const mask = t.affinity === null ? "no affinity mask" : `${cpus(t.affinity)} in the affinity mask`;
  const quota = t.cgroupQuota === null ? "no cgroup CPU quota" : `cgroup CPU quota ${t.cgroupQuota} CPUs (${t.cgroupDir})`;
  const why =
    t.source === "cgroup-quota"
      ? `the cgroup CPU quota, rounded up: ${quota}; ${mask}`
      : t.source === "affinity"
        ? `the affinity mask: ${mask} of ${t.hardware ?? "?"}; ${quota}`
        : `the hardware: ${machine}; ${mask}; ${quota}`;
  return `${t.default} by default (from ${why}); --threads N overrides`;
}

async function version(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  for (const a of flags) {
    if (a !== "--verbose" && a !== "-v" && a !== "--json" && a !== "--debug") {
      printUsageError(new UsageError(`unknown option '${a}' for --version`), VERSION_HELP);
      return EXIT.USAGE;
    }
  }
  const verbose = flags.has("--verbose") || flags.has("-v");
  const { VERSION } = await import("../version.js");
  if (!verbose) {
    process.stdout.write(flags.has("--json") ? jsonText({}) : VERSION + "\n");
    return EXIT.OK;
  }
  let info;
  try {
    info = (await import("../build-info.js")).buildInfo();
  } catch (e) {
    process.stdout.write(`npzguard ${VERSION}\n`);
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.UNREADABLE;
  }
  if (flags.has("--json")) {
    process.stdout.write(jsonText({ build: info }));
    return EXIT.OK;
  }
  const rows: [string, string][] = [
    ["node", `${info.node} (N-API ${info.napi.node}; the addon needs ${info.napi.addon})`],
    ["platform", info.platform],
    ["addon", info.addon.path],
    [
      "build",
      info.addon.origin === "prebuilt"
        ? "prebuilt binary shipped in the package"
        : info.addon.origin === "local"
          ? "built from source on this machine"
          : "NPZGUARD_ADDON override",
    ],
    ["compiler", info.addon.compiler + (info.addon.sanitizers ? " (ASan/UBSan)" : "")],
    ["crc32", info.crc32],
    ["inflate", info.inflate],
    ["threads", threadsLine(info.threads)],
    // bin/npzguard runs the CommonJS bundle (scripts/bundle-cli.mjs) when it is there
    ["cli", import.meta.url.endsWith(".cjs") ? "bundled (dist/cli-bundle)" : "ES modules (dist/cli)"],
  ];
  process.stdout.write(`npzguard ${info.version}\n` + rows.map(([k, v]) => `  ${k.padEnd(9)} ${v}`).join("\n") + "\n");
  return EXIT.OK;
}

function usage(): string {
  const lines = ["Usage: npzguard <command> [options]", "", "Commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push(
    "",
    "Run `npzguard <command> --help` for the options of a command.",
    "`npzguard --version --verbose` shows the build in use (addon, prebuilt or local, CRC/inflate).",
  );
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage() + "\n");
    return cmd === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (cmd === "--version" || cmd === "-V") return version(rest);
  const entry = COMMANDS[cmd];
  if (!entry) {
    printUsageError(new UsageError(`unknown command '${cmd}'`), usage());
    return EXIT.USAGE;
  }
  const mod = await entry.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const debug = process.argv.includes("--debug");
    const e = err instanceof Error ? err : new Error(String(err));
    const code = exitCodeFor(err); // 3: input or installation (a coded error), 70: a bug
    const text = debug ? (e.stack ?? e.message) : e.message;
    process.stderr.write(code === EXIT.INTERNAL ? `npzguard: internal error: ${text}\n` : `${text.startsWith("npzguard:") ? "" : "npzguard: "}${text}\n`);
    process.exitCode = code;
  },
);
