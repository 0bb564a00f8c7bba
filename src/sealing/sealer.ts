// Secrets at rest: AES-256-GCM (node:crypto), with keys derived by HKDF from the keys SWITCHYARD_ENCRYPTION_KEY
// lists. Each value gets a fresh 96-bit IV; the GCM tag authenticates it, and a context naming its row (and
// column) is bound in as associated data, so a sealed value cannot be moved to another row or column.
//
// Format v2, `v2:<key id>:<iv>:<tag>:<ciphertext>`, names the key it was sealed under (a fingerprint, not the
// key), so opening picks that key and a rotation knows which values are under an older one. Format v1,
// `v1:<iv>:<tag>:<ciphertext>` (connector secrets before key rotation), is opened by trying each key.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

const KEY_ID = '[A-Za-z0-9_-]{8}'

/**
 * Every sealed value, whatever its version; anything else is plain text. Written for both JavaScript and
 * PostgreSQL regular expressions, so SQL can tell sealed rows from plain ones with the same rule.
 */
export const SEALED_FORMAT = new RegExp(
  `^(?:v1|v2:${KEY_ID}):[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/]*={0,2}$`,
)

/** The key id a v2 value names, as the first group (for JavaScript and PostgreSQL alike). */
export const SEALED_KEY_ID = new RegExp(`^v2:(${KEY_ID}):`)

export const isSealed = (text: string) => SEALED_FORMAT.test(text)

export interface Sealer {
  /** Seals under the current key (the first one listed). */
  seal(plaintext: string, context: string): string
  /** Opens a value sealed under any listed key, for the same context; throws SealError otherwise. */
  open(sealed: string, context: string): string
  /** The fingerprint of the current key, as sealed values name it. */
  readonly currentKeyId: string
  /** The fingerprints of every listed key, the current one first. */
  readonly keyIds: readonly string[]
}

export class SealError extends Error {
  override name = 'SealError'
}

interface SealingKey {
  id: string
  key: Buffer
}

function deriveKey(encryptionKey: string): SealingKey {
  // The derivation format v1 used (its info string included), so values sealed then still open.
  const key = Buffer.from(hkdfSync('sha256', encryptionKey, 'switchyard', 'connector secrets v1', 32))
  const id = createHmac('sha256', key).update('switchyard key id').digest().subarray(0, 6).toString('base64url')
  return { id, key }
}

function decrypt(key: Buffer, context: string, iv: string, tag: string, ciphertext: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'))
    .setAAD(Buffer.from(context))
    .setAuthTag(Buffer.from(tag, 'base64'))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8')
}

/** A sealer over `encryptionKeys`: the current key first, then older ones that values may still be sealed under. */
export function createSealer(encryptionKeys: readonly string[]): Sealer {
  const ring = encryptionKeys.map(deriveKey)
  const [current] = ring
  if (!current) throw new Error('a sealer needs at least one encryption key')
  const byId = new Map(ring.map((entry) => [entry.id, entry.key]))
  return {
    currentKeyId: current.id,
    keyIds: ring.map((entry) => entry.id),
    seal(plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', current.key, iv).setAAD(Buffer.from(context))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return ['v2', current.id, ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64'))].join(
        ':',
      )
    },
    open(sealed, context) {
      if (!isSealed(sealed)) throw new SealError('the value is not sealed')
      const parts = sealed.split(':')
      if (parts[0] === 'v2') {
        const [, id = '', iv = '', tag = '', ciphertext = ''] = parts
        const key = byId.get(id)
        if (!key)
          throw new SealError(`the value is sealed under key ${id}, which SWITCHYARD_ENCRYPTION_KEY does not list`)
        try {
          return decrypt(key, context, iv, tag, ciphertext)
        } catch {
          throw new SealError('the value cannot be opened: it was sealed for another row, or altered')
        }
      }
      const [, iv = '', tag = '', ciphertext = ''] = parts
      for (const { key } of ring) {
        try {
          return decrypt(key, context, iv, tag, ciphertext)
        } catch {
          // Not under this key: the next one, then.
        }
      }
      throw new SealError('the value cannot be opened with any key SWITCHYARD_ENCRYPTION_KEY lists')
    },
  }
}
