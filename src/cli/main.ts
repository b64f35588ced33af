#!/usr/bin/env node
// npzguard CLI entry: dispatches to one module per subcommand (src/cli/<command>.ts).
// Exit codes (stable): 0 ok, 1 contract violations / blocked jobs, 2 usage error,
// 3 unreadable or malformed input.
import { EXIT, UsageError, printUsageError } from "./common.js";

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
  plan: { summary: "enumerate the study's training jobs and verify every dataset", load: () => import("./plan.js") },
  run: { summary: "verify, then hand verified jobs to the trainer (local GPU pool or Slurm)", load: () => import("./run.js") },
  status: { summary: "refresh and print the hand-off record of an artifact root", load: () => import("./status.js") },
  synth: { summary: "write a small, valid synthetic Phase C/D study tree", load: () => import("./synth.js") },
  demo: { summary: "synthesize a small study, check it, plan it and dry-run the hand-off", load: () => import("./demo.js") },
};

function usage(): string {
  const lines = ["Usage: npzguard <command> [options]", "", "Commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push("", "Run `npzguard <command> --help` for the options of a command.");
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage() + "\n");
    return cmd === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (cmd === "--version" || cmd === "-V") {
    const { VERSION } = await import("../version.js");
    process.stdout.write(VERSION + "\n");
    return EXIT.OK;
  }
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
    process.stderr.write(`npzguard: internal error: ${debug ? (e.stack ?? e.message) : e.message}\n`);
    process.exitCode = EXIT.UNREADABLE;
  },
);
