// RuleId is derived from the rule catalogue (src/contract/rules.ts): a draft that names a rule
// the catalogue does not have must not compile. Checked with the TypeScript compiler itself.
import ts from "typescript";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RULE_IDS } from "../../src/contract/rules.js";

const draftModule = fileURLToPath(new URL("../../src/contract/draft.ts", import.meta.url));

function diagnostics(source: string): string[] {
  const file = fileURLToPath(new URL("../../src/contract/__rule_id_probe.ts", import.meta.url));
  const host = ts.createCompilerHost({
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  });
  const read = host.readFile.bind(host);
  host.readFile = (f) => (f === file ? source : read(f));
  const exists = host.fileExists.bind(host);
  host.fileExists = (f) => f === file || exists(f);
  const program = ts.createProgram(
    [file],
    {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: [],
    },
    host,
  );
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("RuleId", () => {
  it("accepts every catalogue id and rejects a mistyped one at compile time", () => {
    expect(draftModule.endsWith("draft.ts")).toBe(true);
    const ok = diagnostics(
      `import type { Draft } from "./draft.js";\nexport const d: Draft[] = [${RULE_IDS.map((id) => `{ rule: ${JSON.stringify(id)}, key: null, message: "" }`).join(", ")}];\n`,
    );
    expect(ok).toEqual([]);
    const bad = diagnostics(`import type { Draft } from "./draft.js";\nexport const d: Draft = { rule: "data001/requred-keys", key: null, message: "" };\n`);
    expect(bad.join("\n")).toMatch(/"data001\/requred-keys"' is not assignable/);
  }, 60_000);
});
