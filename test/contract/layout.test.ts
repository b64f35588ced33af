import { describe, expect, it } from "vitest";
import { detectLegacyLayout, tfLayout, torchLayout } from "../../src/contract/layout.js";
import { phaseCProvenance } from "../../src/contract/metadata.js";
import { RULES, ruleSeverity } from "../../src/contract/rules.js";

describe("legacy layout heuristics (§6.5)", () => {
  it("TF load_data: canonical if a == n, legacy if c == n, else unalignable", () => {
    expect(tfLayout([10, 64, 64], 10)).toBe("canonical");
    expect(tfLayout([64, 64, 10], 10)).toBe("legacy");
    expect(tfLayout([64, 64, 10], 7)).toBe("unalignable");
  });

  it("torch: square axes decide first, then the count axis, then c > max(a, b)", () => {
    expect(torchLayout([10, 64, 64], null)).toBe("canonical");
    expect(torchLayout([64, 64, 10], null)).toBe("legacy");
    // both squares (64, 64, 64): count axis decides
    expect(torchLayout([64, 64, 64], 64)).toBe("canonical");
    // neither square: a == n decides
    expect(torchLayout([10, 32, 64], 10)).toBe("canonical");
    expect(torchLayout([32, 48, 10], 10)).toBe("legacy");
    // neither square, neither equal: the axis < n wins (trailing extra coordinates)
    expect(torchLayout([10, 32, 64], 12)).toBe("canonical");
    // n unknown: legacy iff c > max(a, b)
    expect(torchLayout([10, 32, 64], null)).toBe("legacy");
    expect(torchLayout([10, 64], null)).toBe("not-rank-3");
  });

  it("fires when either says legacy and says when they disagree", () => {
    expect(detectLegacyLayout([10, 64, 64], 10)).toBeNull();
    const both = detectLegacyLayout([64, 64, 10], 10);
    expect(both?.disagree).toBe(false);
    const dis = detectLegacyLayout([64, 64, 10], 7);
    expect(dis?.tf).toBe("unalignable");
    expect(dis?.disagree).toBe(true);
    expect(dis?.message).toContain("Unable to align diffraction shape (64, 64, 10) with xcoords length 7.");
  });
});

describe("phaseCProvenance() (§7.3)", () => {
  it("renders records without tool as None", () => {
    const [d] = phaseCProvenance("p.npz", { data_transformations: [{ tool: "generate_patches" }, { operation: "x" }] });
    expect(d?.message).toContain("Found transformations: ['generate_patches', None].");
  });

  it("treats a case-different tool name as missing and non-object JSON as malformed", () => {
    expect(phaseCProvenance("p.npz", { data_transformations: [{ tool: "Transpose_Rename_Convert" }] })).toHaveLength(1);
    expect(phaseCProvenance("p.npz", { data_transformations: [{ tool: "transpose_rename_convert" }] })).toHaveLength(0);
    expect(phaseCProvenance("p.npz", [1, 2])[0]?.message).toBe("Phase C NPZ file has malformed _metadata: p.npz");
    expect(phaseCProvenance("p.npz", null)[0]?.message).toMatch(/^Phase C NPZ file missing required _metadata field: p\.npz\./);
  });
});

describe("RULES", () => {
  it("uses the parenthesised severity for value rules in reference and E in study", () => {
    expect(ruleSeverity("data001/diffraction-finite", "reference")).toBe("warning");
    expect(ruleSeverity("data001/diffraction-finite", "study")).toBe("error");
    expect(ruleSeverity("data001/coords-start", "pytorch")).toBe("info");
    expect(ruleSeverity("data001/label", "study")).toBeNull();
    expect(Object.keys(RULES).every((id) => /^(npz|data001)\/[a-z0-9-]+$/.test(id))).toBe(true);
  });
});
