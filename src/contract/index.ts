// Public surface of the DATA-001 contract engine.
export { checkFile, checkPaths, expandPaths, type CheckRunOptions } from "./check.js";
export { evaluate, ruleForCode, type FileFacts, type MemberFacts, type EngineResult } from "./engine.js";
export { RULES, RULE_IDS, VALUE_RULE_IDS, HINTS, ruleSeverity, type RuleDef, type SeverityTable } from "./rules.js";
export { referenceVerdict, numpyDtypeName, REQUIRED_NPZ_KEYS, type RefValue, type RefInput } from "./reference.js";
export { detectLegacyLayout, tfLayout, torchLayout, type LayoutVerdict } from "./layout.js";
export { evaluateMetadata, phaseCProvenance } from "./metadata.js";
export { formatText, formatReportText } from "./format/text.js";
export { formatJson, toJsonOutput, type JsonOutput, type JsonFileReport } from "./format/json.js";
export { formatJunit, xmlEscape } from "./format/junit.js";
export { formatGithub } from "./format/github.js";
export type * from "./types.js";
