import { createHash, randomBytes } from 'node:crypto';

/** Crockford's base32 alphabet: no I, L, O, U. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10; // 50 bits: milliseconds until the year 10889
const RANDOM_CHARS = 16; // 80 bits from the OS CSPRNG
export const TICKET_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Random bytes are drawn in pools so a burst of submissions costs one syscall, not one each. */
const POOL_SIZE = 10 * 256;
let pool = Buffer.alloc(0);
let poolOffset = POOL_SIZE;

function randomChars(): string {
  if (poolOffset + 10 > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  let out = '';
  // 10 bytes = 80 bits = 16 characters of 5 bits each
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (pool[poolOffset + i] as number);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  poolOffset += 10;
  return out;
}

function timeChars(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/**
 * A new ticket: 26 characters of Crockford base32, the first 10 the creation time in
 * milliseconds (so tickets sort by time), the last 16 are 80 random bits (so they cannot be
 * guessed, and a ticket is the capability to read its result).
 */
export function newTicket(now: number = Date.now()): string {
  return timeChars(now) + randomChars();
}

/**
 * Every text parseTicket takes: 26 letters and digits of either case but U (I and L are read
 * as 1, O as 0), blanks around them. ASCII only, so no other script's case mapping (`ſ` → S)
 * makes a ticket; the OpenAPI document gives this as the pattern of `{ticket}`.
 */
export const TICKET_INPUT_RE = /^\s*[0-9A-TV-Za-tv-z]{26}\s*$/;

/** Normalises what a person typed (lower case, I/L/O confusions) to a canonical ticket, or null. */
export function parseTicket(text: string): string | null {
  if (!TICKET_INPUT_RE.test(text)) return null;
  const up = text.trim().toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0');
  return TICKET_RE.test(up) ? up : null;
}

/**
 * The smallest ticket created at `ms`: every ticket created before `ms` sorts below it, so a
 * time range becomes a range of the primary key.
 */
export function ticketFloor(ms: number): string {
  return timeChars(Math.max(0, Math.floor(ms))) + '0'.repeat(RANDOM_CHARS);
}

/** The creation time encoded in a ticket. */
export function ticketTime(ticket: string): number {
  let t = 0;
  for (let i = 0; i < TIME_CHARS; i++) t = t * 32 + ALPHABET.indexOf(ticket[i] as string);
  return t;
}

/**
 * The ticket of task `index` of the job of many tasks `parent`: its creation time, then 80
 * bits of SHA-256 over the parent's ticket and the index. Every process derives the same id,
 * so a task needs no table of its own to be found, and it is as unguessable as its parent.
 */
export function taskTicket(parent: string, index: number): string {
  const digest = createHash('sha256').update(`${parent}/${index}`).digest();
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (digest[i] as number);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return parent.slice(0, TIME_CHARS) + out;
}
