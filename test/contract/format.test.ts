import { describe, expect, it } from "vitest";
import { checkFile } from "../../src/contract/check.js";
import { escapeData, escapeProperty, formatGithub } from "../../src/contract/format/github.js";
import { formatJson } from "../../src/contract/format/json.js";
import { formatJunit, xmlEscape } from "../../src/contract/format/junit.js";
import { formatText } from "../../src/contract/format/text.js";
import type { Report } from "../../src/contract/types.js";
import { fx } from "./helpers.js";

function report(overrides: Partial<Report> = {}): Report {
  return {
    path: "dir,a:b/x&y<1>.npz",
    ok: false,
    profile: "study",
    mode: "full",
    referenceVerdict: { status: "fail", error: 'Dataset validation failed: ValueError: bad "quote"' },
    violations: [
      { rule: "data001/required-keys", severity: "error", key: null, message: "100% missing\r\nnext <line> & 'q'", finding: "DATA-001", hint: "h" },
      { rule: "data001/coords-start", severity: "warning", key: "xcoords_start", message: "warn\u0001ctl", finding: "DATA-001" },
      { rule: "npz/storage", severity: "info", key: null, message: "info only", finding: null },
    ],
    notEvaluated: ["data001/bool-values"],
    members: [],
    stats: {},
    digest: { size: 0, mtimeMs: 0, inode: 0, members: [] },
    durationMs: 12,
    ...overrides,
  };
}

describe("formatGithub()", () => {
  it("escapes % \\r \\n in data and : , in properties", () => {
    expect(escapeData("a%b\r\nc")).toBe("a%25b%0D%0Ac");
    expect(escapeProperty("a:b,c%")).toBe("a%3Ab%2Cc%25");
    const out = formatGithub([report()]).trimEnd().split("\n");
    expect(out).toHaveLength(2);
    expect(out[0]).toBe("::error file=dir%2Ca%3Ab/x&y<1>.npz,title=data001/required-keys::100%25 missing%0D%0Anext <line> & 'q'%0Ahint: h");
    expect(out[1]?.startsWith("::warning file=dir%2Ca%3Ab/x&y<1>.npz,title=data001/coords-start::[xcoords_start] warn")).toBe(true);
  });
});

describe("formatJunit()", () => {
  it("escapes XML and drops characters XML cannot carry", () => {
    expect(xmlEscape(`<a b="c">&'\u0001`)).toBe("&lt;a b=&quot;c&quot;&gt;&amp;&apos;\uFFFD");
    const xml = formatJunit([report()]);
    expect(xml).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    expect(xml).toContain('<testsuite name="dir,a:b/x&amp;y&lt;1&gt;.npz"');
    expect(xml).toContain('<testcase name="data001/required-keys" classname="dir,a:b/x&amp;y&lt;1&gt;.npz">');
    expect(xml).toContain('<failure message="100% missing\r\nnext &lt;line&gt; &amp; &apos;q&apos;"');
    expect(xml).toContain('<testcase name="data001/bool-values" classname="dir,a:b/x&amp;y&lt;1&gt;.npz">\n      <skipped');
    // Balanced elements: every opened testsuite/testcase is closed.
    const opened = (xml.match(/<testcase [^>]*[^/]>/g) ?? []).length;
    expect((xml.match(/<\/testcase>/g) ?? []).length).toBe(opened);
    expect(xml.match(/failures="(\d+)"/)?.[1]).toBe("1");
  });

  it("one testsuite per file, one testcase per rule evaluated in the profile", async () => {
    const a = await checkFile(fx("valid.npz"));
    const b = await checkFile(fx("missing_keys.npz"));
    const xml = formatJunit([a, b]);
    expect((xml.match(/<testsuite /g) ?? []).length).toBe(2);
    expect(xml).toContain('<testcase name="data001/required-keys"');
    expect(xml).not.toContain('<testcase name="data001/label"'); // not evaluated in study
    expect((xml.match(/<failure /g) ?? []).length).toBeGreaterThan(0);
  });
});

describe("formatJson()", () => {
  it("has ok and files[] with the documented fields", () => {
    const j = JSON.parse(formatJson([report(), report({ ok: true, violations: [], path: "b.npz" })])) as {
      ok: boolean;
      files: { path: string; ok: boolean; profile: string; violations: Record<string, unknown>[]; stats: object; referenceVerdict: object }[];
    };
    expect(j.ok).toBe(false);
    expect(j.files.map((f) => f.path)).toEqual(["dir,a:b/x&y<1>.npz", "b.npz"]);
    expect(Object.keys(j.files[0]!.violations[0]!)).toEqual(expect.arrayContaining(["rule", "severity", "key", "message", "finding"]));
    expect(j.files[0]!.referenceVerdict).toEqual({ status: "fail", error: 'Dataset validation failed: ValueError: bad "quote"' });
  });
});

describe("formatText()", () => {
  it("prints one block per file, errors first, with hints", () => {
    const t = formatText([report()]);
    const lines = t.split("\n");
    expect(lines[0]).toMatch(/^FAIL /);
    expect(lines[1]).toMatch(/^ {2}error/);
    expect(lines[1]).toContain("100% missing\\r\\nnext <line>");
    expect(lines[2]).toContain("hint: h");
    expect(t).toContain("1 file checked: 0 passed, 1 failed");
  });
});
