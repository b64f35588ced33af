// appendTransformation(): the `_metadata` text is kept byte-for-byte and one record is appended
// to its top-level data_transformations list (created when absent).
import { describe, expect, it } from "vitest";
import { appendTransformation } from "../../src/fix/metadata-text.js";

const REC = { tool: "npzguard fix", n: 1 };
const R = JSON.stringify(REC);

describe("appendTransformation()", () => {
  it("appends to an existing list, keeping every other byte", () => {
    const t = '{"a": 1e9, "data_transformations": [{"tool": "x"}], "z": "]}"}';
    expect(appendTransformation(t, REC)).toBe(`{"a": 1e9, "data_transformations": [{"tool": "x"}, ${R}], "z": "]}"}`);
  });
  it("fills an empty list", () => {
    expect(appendTransformation('{"data_transformations": [ ]}', REC)).toBe(`{"data_transformations": [ ${R}]}`);
  });
  it("creates the list when absent (empty object, or after the last member)", () => {
    expect(appendTransformation("{}", REC)).toBe(`{"data_transformations": [${R}]}`);
    expect(appendTransformation(' {"k": {"data_transformations": [1]}, "s": "a\\"b"} ', REC)).toBe(
      ` {"k": {"data_transformations": [1]}, "s": "a\\"b", "data_transformations": [${R}]} `,
    );
  });
  it("the result parses and holds the record last", () => {
    const t = '{"schema_version": "1.0.0", "physics_parameters": {"nphotons": 1e9}, "data_transformations": [{"tool": "transpose_rename_convert"}]}';
    const v = JSON.parse(appendTransformation(t, REC)) as { data_transformations: unknown[] };
    expect(v.data_transformations).toEqual([{ tool: "transpose_rename_convert" }, REC]);
  });
  it("refuses text that is not an object or whose list is not a list", () => {
    expect(() => appendTransformation("[1]", REC)).toThrow(SyntaxError);
    expect(() => appendTransformation('{"data_transformations": {}}', REC)).toThrow(SyntaxError);
  });
});
