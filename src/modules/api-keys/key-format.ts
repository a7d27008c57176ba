/**
 * API key text, after GitHub's token format: a type prefix, the key's id (so
 * it is found by primary key), a random secret and a checksum. A typo or a
 * truncated key fails the checksum and is refused without a database read.
 *
 *   fsm_42_<32 base62 secret><6 base62 CRC-32 of "fsm_42_<secret>">
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const SECRET_LENGTH = 32
const CHECKSUM_LENGTH = 6
const KEY_PATTERN = /^fsm_([1-9]\d{0,15})_([0-9A-Za-z]{38})$/

function base62(value: number, width: number): string {
  let out = ''
  for (let i = 0; i < width; i++) {
    out = ALPHABET[value % 62] + out
    value = Math.floor(value / 62)
  }
  return out
}

function randomSecret(): string {
  // Rejection sampling keeps every character uniformly likely (~190 bits).
  let out = ''
  while (out.length < SECRET_LENGTH) {
    for (const byte of randomBytes(SECRET_LENGTH * 2)) {
      if (byte < 248 && out.length < SECRET_LENGTH) out += ALPHABET[byte % 62]
    }
  }
  return out
}

function checksum(body: string): string {
  return base62(crc32(body), CHECKSUM_LENGTH)
}

export function generateKey(keyId: number): { apiKey: string; prefix: string; hash: string } {
  const body = `fsm_${keyId}_${randomSecret()}`
  const apiKey = body + checksum(body)
  return { apiKey, prefix: apiKey.slice(0, body.length - SECRET_LENGTH + 4), hash: hashKey(apiKey) }
}

/** The key id of a well-formed key, or null for anything malformed. */
export function parseKey(apiKey: string): number | null {
  const match = KEY_PATTERN.exec(apiKey)
  if (!match) return null
  const body = apiKey.slice(0, apiKey.length - CHECKSUM_LENGTH)
  if (checksum(body) !== apiKey.slice(-CHECKSUM_LENGTH)) return null
  const id = Number(match[1])
  return Number.isSafeInteger(id) ? id : null
}

export function hashKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex')
}

/** Constant-time comparison of two hex digests. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}
