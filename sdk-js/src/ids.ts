const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * Returns a time-ordered, globally unique ID: prefix, "_", then 10 characters
 * of millisecond time and 16 characters (80 bits) of randomness in
 * Crockford base32 (a ULID), e.g. "pst_01JD3Q8W7M6ZK1Y4T2N9B5C0XR".
 * Later IDs sort after earlier ones, like Dexie Cloud's "@id" keys.
 */
export function generateId(prefix: string, now: number = Date.now(), random: (n: number) => Uint8Array = randomBytes): string {
  let time = "";
  let t = Math.floor(now);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = random(10);
  let rand = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      rand += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${time}${rand}`;
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
