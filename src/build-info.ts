// buildInfo(): what this installation of npzguard runs on — package and runtime versions, which
// native addon file was loaded and how it got there, and the CRC-32 / inflate implementations the
// addon reports (decided by the addon itself; passed through unchanged).
import { native, addonFile, addonOrigin, type AddonOrigin } from "./native.js";
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
  };
}
