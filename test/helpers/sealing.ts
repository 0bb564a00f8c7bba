// Sealed values as older versions stored them, for tests of what the hub does with such rows.
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto'

/** A value as the sealer before key rotation wrote it (connector secrets): `v1:<iv>:<tag>:<ciphertext>`, no key id. */
export function sealV1(encryptionKey: string, plaintext: string, context: string): string {
  const key = Buffer.from(hkdfSync('sha256', encryptionKey, 'switchyard', 'connector secrets v1', 32))
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64')).join(':')
}
