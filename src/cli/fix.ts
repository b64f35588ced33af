// `npzguard fix IN --out OUT`: plan and apply the remedies for IN's fixable findings, check OUT.
// Exit: 0 OUT written and passing (dry run: every blocking finding has a remedy), 1 unfixable
// findings or OUT failing its check, 2 usage (incl. existing OUT without --force), 3 IN unreadable.
import { isNpzError } from "../errors.js";
import type { Profile } from "../contract/types.js";
import { EXIT, UsageError, errorLine, parseCommand, intOption, jsonText, printUsageError } from "./common.js";
import type { FixResult } from "../fix/fix.js";
import { isFixUsageError } from "../fix/output.js";

export const HELP = `Usage: npzguard fix IN --out OUT [options]

Plans the remedies for the fixable DATA-001 findings of IN, prints the plan, writes OUT
(a temporary file beside OUT, renamed when complete), then checks OUT with the same profile.
IN is never modified unless --in-place. Remedies: see "Fixing files" in the README.

Options:
  -o, --out OUT      output archive (refused if it exists, unless --force)
  --profile P        reference | study | tensorflow (default) | pytorch
  --dry-run          print the plan only; write nothing
  --force            replace an existing OUT (or IN.orig with --in-place)
  --in-place         rewrite IN itself; the original is kept as IN.orig
  --no-backup        with --in-place: do not keep IN.orig
  --partial          write OUT even when some findings have no remedy
  --normalize        scale sqrt(counts) so the mean per-frame sum of squares is (N/2)^2
  --align N          alignment of STORED array data in OUT (power of two, default 64)
  --json             print the plan, the members written and the verdict as JSON
  --debug            stack traces on internal errors
  -h, --help         this help

Exit codes: 0 fixed (OUT passes its check), 1 unfixable findings or OUT fails its check,
2 usage error, 3 IN unreadable, 130 interrupted (Ctrl-C; the temporary file is removed).`;

const PROFILES: readonly Profile[] = ["reference", "study", "tensorflow", "pytorch"];

const FIX_OPTIONS = {
  out: { type: "string", short: "o" },
  profile: { type: "string" },
  "dry-run": { type: "boolean" },
  force: { type: "boolean" },
  "in-place": { type: "boolean" },
  "no-backup": { type: "boolean" },
  partial: { type: "boolean" },
  normalize: { type: "boolean" },
  align: { type: "string" },
  json: { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** How fix and repack end on an error: 130 when interrupted (nothing written), 2 for a usage
 * error of the library, 3 for a coded read error; anything else is a bug and is thrown. */
export function fixFailureExit(e: unknown, signal: AbortSignal, debug: boolean): number {
  if (signal.aborted) {
    process.stderr.write("npzguard: interrupted; nothing written\n");
    return 130;
  }
  if (isFixUsageError(e)) {
    process.stderr.write(`npzguard: ${e.code}: ${e.message}\n`);
    return EXIT.USAGE;
  }
  if (isNpzError(e) || (e instanceof Error && typeof (e as { code?: unknown }).code === "string")) {
    process.stderr.write(errorLine(e, debug) + "\n");
    return EXIT.UNREADABLE;
  }
  throw e;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, FIX_OPTIONS, HELP);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const debug = values.debug ?? false;
  let input: string;
  let align: number | undefined;
  const profile = (values.profile ?? "tensorflow") as Profile;
  try {
    if (positionals.length !== 1 || positionals[0] === "") throw new UsageError("fix needs exactly one IN file");
    input = positionals[0]!;
    if (!PROFILES.includes(profile)) throw new UsageError(`Expected one of ${PROFILES.join(", ")} for --profile, got '${profile}'`);
    if (values["in-place"] && values.out !== undefined && values.out !== input) throw new UsageError("--in-place rewrites IN; --out must be omitted");
    if (!values["in-place"] && !values.out) throw new UsageError("fix needs --out OUT (or --in-place)");
    if (values["no-backup"] && !values["in-place"]) throw new UsageError("--no-backup only applies to --in-place");
    align = intOption("align", values.align, 1);
    if (align !== undefined && (align > 32768 || (align & (align - 1)) !== 0))
      throw new UsageError(`Expected a power of two between 1 and 32768 for --align, got '${values.align}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      printUsageError(e, HELP);
      return EXIT.USAGE;
    }
    throw e;
  }
  const { fixFile } = await import("../fix/fix.js");
  let result: FixResult;
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  try {
    result = await fixFile(input, values["in-place"] ? undefined : values.out, {
      profile,
      dryRun: values["dry-run"] ?? false,
      force: values.force ?? false,
      inPlace: values["in-place"] ?? false,
      backup: !values["no-backup"],
      partial: values.partial ?? false,
      normalize: values.normalize ?? false,
      ...(align !== undefined ? { align } : {}),
      signal: ac.signal,
    });
  } catch (e) {
    return fixFailureExit(e, ac.signal, debug);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  const { plan, verdict } = result;
  const target = values["in-place"] ? input : values.out!;
  if (values.json) {
    process.stdout.write(
      jsonText({
        input,
        output: target,
        profile,
        written: result.written,
        ...(result.reason ? { reason: result.reason } : {}),
        ...(result.backup ? { backup: result.backup } : {}),
        ...(result.scale !== undefined ? { scale: result.scale } : {}),
        remedies: plan.remedies,
        unfixed: plan.unfixed,
        ...(plan.metadataNote ? { metadataNote: plan.metadataNote } : {}),
        members: result.members.map((m) => ({
          name: m.name,
          method: m.method === 0 ? "stored" : "deflated",
          crc32: m.crc32,
          compressedSize: m.compressedSize,
          uncompressedSize: m.uncompressedSize,
          dataOffset: m.dataOffset,
        })),
        verdict: verdict ? { ok: verdict.ok, referenceVerdict: verdict.referenceVerdict, violations: verdict.violations } : null,
      }),
    );
  } else {
    const lines: string[] = [`${input} -> ${target} (profile ${profile})`];
    if (plan.remedies.length === 0) lines.push("remedies: none needed");
    else {
      lines.push("remedies:");
      for (const r of plan.remedies) if (r.action !== "align") lines.push(`  ${r.rule}  ${r.key}: ${r.action} (${r.detail})`);
      const aligned = plan.remedies.filter((r) => r.action === "align").map((r) => r.key);
      if (aligned.length) lines.push(`  npz/alignment  ${aligned.join(", ")}: array data aligned to ${align ?? 64} bytes`);
    }
    const blocking = plan.unfixed.filter((u) => u.blocking);
    const kept = plan.unfixed.filter((u) => !u.blocking);
    if (blocking.length) {
      lines.push("no safe remedy (blocking):");
      for (const u of blocking) lines.push(`  ${u.rule}  ${u.key ?? "-"}: ${u.message}\n      reason: ${u.reason}`);
    }
    if (kept.length) {
      lines.push("left as is (not errors):");
      for (const u of kept) lines.push(`  ${u.severity} ${u.rule}  ${u.key ?? "-"}: ${u.message}`);
    }
    if (plan.metadataNote) lines.push(plan.metadataNote);
    if (result.reason === "dry-run") lines.push(plan.blocked ? "dry run: nothing written; some findings have no remedy" : "dry run: nothing written");
    else if (result.reason === "unfixable") lines.push(`nothing written: ${blocking.length} finding(s) have no safe remedy (--partial writes OUT anyway)`);
    if (result.scale !== undefined) lines.push(`normalize: amplitudes scaled by ${result.scale}`);
    if (verdict) {
      const errors = verdict.violations.filter((v) => v.severity === "error");
      const warnings = verdict.violations.filter((v) => v.severity === "warning");
      lines.push(
        `check of ${target} (${profile}): ${verdict.ok ? "PASS" : "FAIL"}, ${errors.length} error(s), ${warnings.length} warning(s); reference verdict ${verdict.referenceVerdict.status}`,
      );
      for (const v of errors) lines.push(`  error ${v.rule}  ${v.key ?? "-"}: ${v.message}`);
      if (result.reason === "check-failed") lines.push(`nothing written: the fixed archive still fails its check`);
    }
    if (result.written) lines.push(`wrote ${target} (${result.members.length} members)${result.backup ? `; original kept as ${result.backup}` : ""}`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  if (result.reason === "dry-run") return plan.blocked ? EXIT.VIOLATIONS : EXIT.OK;
  if (!result.written) return EXIT.VIOLATIONS;
  return verdict?.ok ? EXIT.OK : EXIT.VIOLATIONS;
}
