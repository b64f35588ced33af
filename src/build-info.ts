// buildInfo(): what this installation of npzguard runs on — package and runtime versions, which
// native addon file was loaded and how it got there, and the CRC-32 / inflate implementations the
// addon reports (decided by the addon itself; passed through unchanged), and the default thread
// count with what decided it (the core's cpu_count.h: affinity mask, cgroup CPU quota, hardware).
import { native, addonFile, addonOrigin, type AddonOrigin, type RawCpuBudget } from "./native.js";
import { VERSION } from "./version.js";

/** N-API version the addon is compiled for (package.json `binary.napi_versions`, NAPI_VERSION). */
export const ADDON_NAPI_VERSION = 8;

export interface BuildInfo {
  /** "npzguard". */
  name: string;
  /** Package version. */
  version: string;
  /** Node.js version running this process (`process.versions.node`). */
  node: string;
  /** Highest N-API version this Node supports, and the one the addon needs. */
  napi: { node: number; addon: number };
  /** `process.platform`-`process.arch`, e.g. "linux-x64". */
  platform: string;
  addon: {
    /** Absolute path of the loaded .node file. */
    path: string;
    /** "prebuilt": the binary shipped in the package; "local": built on this machine; "env": NPZGUARD_ADDON. */
    origin: AddonOrigin;
    /** Compiler that built the addon, e.g. "gcc 12.2.0". */
    compiler: string;
    /** Built with AddressSanitizer/UBSan. */
    sanitizers: boolean;
  };
  /** CRC-32 implementation in use, as the addon reports it. */
  crc32: string;
  /** DEFLATE implementation in use, as the addon reports it. */
  inflate: string;
  /** The thread count used when none is asked for (`threads` options, `--threads`), and why. */
  threads: ThreadInfo;
}

export interface ThreadInfo {
  /** Threads used by default: min(CPUs in the affinity mask, cgroup CPU quota rounded up), >= 1. */
  default: number;
  /**
   * What decided it: "cgroup-quota" (a CPU quota of this process's cgroup or an ancestor is
   * below the CPUs it may run on), "affinity" (the affinity mask, e.g. `taskset`, holds fewer CPUs
   * than the machine has) or "hardware" (all of the machine's CPUs).
   */
  source: "cgroup-quota" | "affinity" | "hardware";
  /** CPUs of the machine (`std::thread::hardware_concurrency()`); null when unknown. */
  hardware: number | null;
  /** CPUs in this process's affinity mask (`sched_getaffinity`); null when unavailable. */
  affinity: number | null;
  /** The cgroup CPU quota in CPUs (quota / period, e.g. 1.5); null when there is none. */
  cgroupQuota: number | null;
  /** The cgroup directory whose quota applies; null when there is none. */
  cgroupDir: string | null;
}

function threadInfo(raw: RawCpuBudget): ThreadInfo {
  return {
    default: raw.cpus,
    source: raw.source,
    hardware: raw.hardware > 0 ? raw.hardware : null,
    affinity: raw.affinity > 0 ? raw.affinity : null,
    cgroupQuota: raw.quota,
    cgroupDir: raw.quota === null ? null : raw.quotaDir,
  };
}

let cachedDefault: number | undefined;

/**
 * @internal The default thread count (`buildInfo().threads.default`), detected once per
 * process: what `threads` / `--threads` mean when absent at the TypeScript level (members
 * checked at once). The native reader resolves its own default the same way.
 */
export function defaultThreads(): number {
  cachedDefault ??= Math.max(1, native.buildInfo().threads.cpus);
  return cachedDefault;
}

export function buildInfo(): BuildInfo {
  const raw = native.buildInfo();
  return {
    name: "npzguard",
    version: VERSION,
    node: process.versions.node,
    napi: { node: Number(process.versions.napi), addon: ADDON_NAPI_VERSION },
    platform: `${process.platform}-${process.arch}`,
    addon: { path: addonFile, origin: addonOrigin, compiler: raw.compiler, sanitizers: raw.sanitizers },
    crc32: raw.crc32,
    inflate: raw.inflate,
    threads: threadInfo(raw.threads),
  };
}
