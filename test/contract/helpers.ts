// Shared helpers for the contract tests: fixture paths and violation lookups.
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Report, Violation } from "../../src/contract/types.js";

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/contract");

export function fx(name: string): string {
  return path.join(FIXTURES, name);
}

export function rules(r: Report, severity?: Violation["severity"]): string[] {
  return r.violations.filter((v) => !severity || v.severity === severity).map((v) => v.rule);
}

export function find(r: Report, rule: string): Violation[] {
  return r.violations.filter((v) => v.rule === rule);
}
