// Protocol-4 pickle of a 0-d object ndarray holding one str, byte-identical to what NumPy 2.x
// writes for `np.save(f, np.array(text, dtype=object), allow_pickle=True)` (CPython's C
// pickler; layout in npy-npz-format.md §9.2). Only this one shape of payload is produced: it is
// what PtychoPINN's MetadataManager stores as `_metadata`.
//
// Framing follows CPython: PROTO sits before the first FRAME; a str payload of 64 KiB or more
// bypasses the frame (the frame so far is closed, the str opcode and length are written
// unframed, then the bytes) and what follows starts a new frame. A shorter str stays inside the
// single frame even when that frame grows past 64 KiB (checked against NumPy 2.4 for text
// lengths 65,390–65,536: CPython commits frames at opcode boundaries this payload never reaches).

const FRAME_SIZE_TARGET = 64 * 1024;

/** Opcodes, in order, up to and including EMPTY_LIST + MEMOIZE (the text follows). */
function prefixOpcodes(): Buffer {
  const parts: Buffer[] = [];
  const shortStr = (s: string) => {
    const b = Buffer.from(s, "ascii");
    parts.push(Buffer.from([0x8c, b.length]), b, Buffer.from([0x94])); // SHORT_BINUNICODE, MEMOIZE
  };
  const raw = (...bytes: number[]) => parts.push(Buffer.from(bytes));
  shortStr("numpy._core.multiarray");
  shortStr("_reconstruct");
  raw(0x93, 0x94); // STACK_GLOBAL, MEMOIZE                           memo 2
  shortStr("numpy"); // memo 3
  shortStr("ndarray");
  raw(0x93, 0x94); // ndarray
  raw(0x4b, 0x00, 0x85, 0x94); // BININT1 0, TUPLE1 -> (0,)
  raw(0x43, 0x01, 0x62, 0x94); // SHORT_BINBYTES b'b'
  raw(0x87, 0x94, 0x52, 0x94); // TUPLE3, REDUCE
  raw(0x28, 0x4b, 0x01, 0x29); // MARK, BININT1 1 (state version), EMPTY_TUPLE (shape ())
  raw(0x68, 0x03); // BINGET 3 ("numpy")
  shortStr("dtype");
  raw(0x93, 0x94); // dtype
  shortStr("O8");
  raw(0x89, 0x88, 0x87, 0x94, 0x52, 0x94); // False, True, TUPLE3, REDUCE
  raw(0x28, 0x4b, 0x03); // MARK, BININT1 3
  shortStr("|");
  raw(0x4e, 0x4e, 0x4e); // None x3
  raw(0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff); // BININT -1, BININT -1
  raw(0x4b, 0x3f, 0x74, 0x94, 0x62); // BININT1 63, TUPLE, MEMOIZE, BUILD
  raw(0x89); // NEWFALSE (is_fortran)
  raw(0x5d, 0x94); // EMPTY_LIST, MEMOIZE
  return Buffer.concat(parts);
}

const PREFIX = prefixOpcodes();
/** APPEND, TUPLE (to MARK), MEMOIZE, BUILD, STOP. */
const TAIL = Buffer.from([0x61, 0x74, 0x94, 0x62, 0x2e]);
const MEMOIZE = Buffer.from([0x94]);

function frameHeader(len: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x95;
  b.writeBigUInt64LE(BigInt(len), 1);
  return b;
}

function stringOpcode(utf8: Buffer): Buffer {
  if (utf8.length <= 0xff) return Buffer.from([0x8c, utf8.length]);
  if (utf8.length <= 0xffffffff) {
    const h = Buffer.alloc(5);
    h[0] = 0x58; // BINUNICODE
    h.writeUInt32LE(utf8.length, 1);
    return h;
  }
  throw new RangeError(`Expected a text shorter than 4 GiB for text, got ${utf8.length} bytes`);
}

/**
 * The pickle NumPy 2.x writes after the NPY header of `np.array(text, dtype=object)`.
 * Lone surrogates in `text` are refused (Python could not encode them either).
 */
export function picklePayloadForString(text: string): Buffer {
  if (typeof text !== "string") throw new TypeError(`Expected a string for text, got ${typeof text}`);
  if (/\p{Cs}/u.test(text)) throw new TypeError("Expected well-formed Unicode for text, got a lone surrogate");
  const utf8 = Buffer.from(text, "utf8");
  const head = stringOpcode(utf8);
  const proto = Buffer.from([0x80, 0x04]);
  if (utf8.length >= FRAME_SIZE_TARGET) {
    const tail = Buffer.concat([MEMOIZE, TAIL]);
    return Buffer.concat([proto, frameHeader(PREFIX.length), PREFIX, head, utf8, frameHeader(tail.length), tail]);
  }
  const firstLen = PREFIX.length + head.length + utf8.length + 1; // through the text's MEMOIZE
  return Buffer.concat([proto, frameHeader(firstLen + TAIL.length), PREFIX, head, utf8, MEMOIZE, TAIL]);
}
