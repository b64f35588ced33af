// Public surface of the rewriting commands: fixFile (remedies) and repackFile (alignment).
export { fixFile, type FixOptions, type FixResult } from "./fix.js";
export { repackFile, type RepackOptions, type RepackResult, type RepackMember } from "./repack.js";
export { planFix, type FixPlan, type Remedy, type Unfixed, type MemberJob } from "./plan.js";
export { FixUsageError, isFixUsageError } from "./output.js";
export type { MemberRecord } from "./zip-out.js";
