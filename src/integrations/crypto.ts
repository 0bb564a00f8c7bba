// Connector secrets at rest: AES-256-GCM (node:crypto), with a key derived by HKDF from the configured
// SWITCHYARD_ENCRYPTION_KEY. Each value gets a fresh 96-bit IV; the GCM tag authenticates it, and the
// integration id is bound in as associated data, so a sealed value cannot be moved to another row.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 'v1'

export interface Sealer {
  seal(plaintext: string, context: string): string
  open(sealed: string, context: string): string
}

export class SealError extends Error {
  override name = 'SealError'
}

export function createSealer(encryptionKey: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', encryptionKey, 'switchyard', 'connector secrets v1', 32))
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return [VERSION, iv, cipher.getAuthTag(), ciphertext]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64')))
        .join(':')
    },
    open(sealed, context) {
      const [version, iv, tag, ciphertext] = sealed.split(':')
      if (version !== VERSION || !iv || !tag || ciphertext === undefined) throw new SealError('unknown sealed format')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'))
          .setAAD(Buffer.from(context))
          .setAuthTag(Buffer.from(tag, 'base64'))
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8')
      } catch {
        throw new SealError('the secrets cannot be opened with the configured SWITCHYARD_ENCRYPTION_KEY')
      }
    },
  }
}
