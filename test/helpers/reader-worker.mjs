// Runs inside a worker_threads Worker: loads the addon directly (raw API, no TypeScript) and
// opens, lists, copies, maps and scans one member, then reports back to the parent.
// workerData: { addon: path to npzguard.node, file, key, loops }
import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const addon = require(workerData.addon);

async function once() {
  const archive = addon.open(workerData.file, {});
  try {
    const members = archive.members();
    const index = members.findIndex((m) => m.key === workerData.key);
    if (index < 0) throw new Error(`no member ${workerData.key}`);
    const copy = archive.readArray(index, 1);
    const bytes = new Uint8Array(copy.buffer).slice();
    const auto = archive.readArray(index, 0);
    const autoView = new Uint8Array(auto.buffer);
    const scan = await archive.scan(index, { crc: true, stats: true });
    archive.close();
    return {
      keys: members.map((m) => m.key),
      bytes,
      copyZeroCopy: copy.zeroCopy,
      autoZeroCopy: auto.zeroCopy,
      autoLengthAfterClose: autoView.byteLength,
      closed: archive.closed,
      scan,
    };
  } catch (err) {
    archive.close();
    throw err;
  }
}

try {
  let last;
  for (let i = 0; i < (workerData.loops ?? 1); i++) last = await once();
  parentPort.postMessage({ ok: true, ...last });
} catch (err) {
  parentPort.postMessage({ ok: false, code: err?.code ?? null, message: String(err?.message ?? err) });
}
