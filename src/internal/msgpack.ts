/**
 * A structural check of MessagePack bytes. msgpackr (under `@effect/platform/MsgPack`) already refuses truncated data
 * and trailing bytes, but it decodes the reserved type byte 0xC1 as a sentinel object instead of failing. The
 * converter runs this check only when a 0xC1 byte occurs at all (a native `indexOf`), since it may just as well be a
 * byte inside a string, a number or binary data; this pass tells the two apart by walking the type headers.
 *
 * No recursion: one counter of the items still expected (a map of n entries adds 2n, an array n), so deep nesting
 * costs nothing extra. Payloads (strings, binaries, extensions, numbers) are skipped by their length.
 */

/** Bytes after the type byte for the fixed-size types, indexed by `type - 0xc0`; -1 for those handled apart. */
const FIXED: ReadonlyArray<number> = [
  0, // 0xc0 nil
  -1, // 0xc1 reserved
  0, // 0xc2 false
  0, // 0xc3 true
  -1, // 0xc4 bin 8
  -1, // 0xc5 bin 16
  -1, // 0xc6 bin 32
  -1, // 0xc7 ext 8
  -1, // 0xc8 ext 16
  -1, // 0xc9 ext 32
  4, // 0xca float 32
  8, // 0xcb float 64
  1, // 0xcc uint 8
  2, // 0xcd uint 16
  4, // 0xce uint 32
  8, // 0xcf uint 64
  1, // 0xd0 int 8
  2, // 0xd1 int 16
  4, // 0xd2 int 32
  8, // 0xd3 int 64
  2, // 0xd4 fixext 1 (type byte + 1)
  3, // 0xd5 fixext 2
  5, // 0xd6 fixext 4
  9, // 0xd7 fixext 8
  17 // 0xd8 fixext 16
]

const readLength = (bytes: Uint8Array, offset: number, size: 1 | 2 | 4): number =>
  size === 1
    ? bytes[offset]!
    : size === 2
    ? (bytes[offset]! << 8) | bytes[offset + 1]!
    : (bytes[offset]! * 0x1000000) + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)

/** Why `bytes` is not exactly one well-formed MessagePack value, or `undefined` when it is. */
export const malformation = (bytes: Uint8Array): string | undefined => {
  const end = bytes.byteLength
  let offset = 0
  let expected = 1
  while (expected > 0) {
    // every item takes at least one byte: more expected than bytes left is truncation, whatever comes next
    if (expected > end - offset) return "Unexpected end of MessagePack data"
    const type = bytes[offset]!
    expected--
    offset++
    if (type <= 0x7f || type >= 0xe0) continue // positive / negative fixint
    if (type <= 0x8f) {
      expected += 2 * (type & 0x0f) // fixmap
      continue
    }
    if (type <= 0x9f) {
      expected += type & 0x0f // fixarray
      continue
    }
    if (type <= 0xbf) {
      offset += type & 0x1f // fixstr
      continue
    }
    if (type === 0xc1) return `Reserved MessagePack type byte 0xC1 at offset ${offset - 1}`
    if (type <= 0xd8) {
      const fixed = FIXED[type - 0xc0]!
      if (fixed >= 0) {
        offset += fixed
        continue
      }
      // bin 8/16/32 and ext 8/16/32: a length, then (ext only) a type byte, then the payload
      const isExt = type >= 0xc7
      const size = (1 << (type - (isExt ? 0xc7 : 0xc4))) as 1 | 2 | 4
      if (offset + size > end) return "Unexpected end of MessagePack data"
      offset += size + readLength(bytes, offset, size) + (isExt ? 1 : 0)
      continue
    }
    // 0xd9..0xdb str 8/16/32, 0xdc/0xdd array 16/32, 0xde/0xdf map 16/32
    const size = (type === 0xd9 ? 1 : type === 0xda || type === 0xdc || type === 0xde ? 2 : 4) as 1 | 2 | 4
    if (offset + size > end) return "Unexpected end of MessagePack data"
    const length = readLength(bytes, offset, size)
    offset += size
    if (type <= 0xdb) offset += length
    else if (type <= 0xdd) expected += length
    else expected += 2 * length
  }
  if (offset > end) return "Unexpected end of MessagePack data"
  if (offset < end) return `${end - offset} byte(s) after the end of the MessagePack value`
  return undefined
}
