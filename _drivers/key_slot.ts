// Redis Cluster's hash slots: which keys may share one command. A command
// with keys in different slots fails with CROSSSLOT, so batches (the GET
// script, a store of many values with one expiry) are split per slot.

const SLOTS = 16_384;
const encoder = new TextEncoder();

/**
 * The cluster hash slot of `key`: CRC16 (XMODEM) of the key's UTF-8 bytes,
 * or of its hash tag (the text between the first `{` and the next `}`, when
 * that is not empty), modulo 16 384, as Redis computes it.
 */
export function keySlot(key: string): number {
  const bytes = encoder.encode(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // "{"
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // "}"
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(bytes, start, end) % SLOTS;
}

/** The positions of `keys`, grouped by slot, in order of first appearance. */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [index]);
    else group.push(index);
  });
  return [...groups.values()];
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i] << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    crc &= 0xffff;
  }
  return crc;
}
