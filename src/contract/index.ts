// Public surface of the DATA-001 checker (re-exported by the package root).
export { checkFile, checkPaths, expandPaths, type CheckRunOptions } from "./check.js";
export { RULES, RULE_IDS, VALUE_RULE_IDS, HINTS, ruleSeverity, type RuleDef, type SeverityTable } from "./rules.js";
export { numpyDtypeName, REQUIRED_NPZ_KEYS } from "./reference.js";
export { formatText, formatReportText } from "./format/text.js";
export { formatJson, toJsonOutput, type JsonOutput, type JsonFileReport } from "./format/json.js";
export { formatJunit } from "./format/junit.js";
export { formatGithub } from "./format/github.js";
export type * from "./types.js";
