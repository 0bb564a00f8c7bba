// Standard Webhooks signatures (webhook-id / webhook-timestamp / webhook-signature), made with the
// reference `standardwebhooks` library, plus the seed's `X-Webhook-Signature: sha256=<hex>` and, for a
// STRAPI webhook, Strapi's `X-Strapi-Signature: <hex>`.
import { createHmac, randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { badInput } from '../errors.ts'

const PREFIX = 'whsec_'

export function generateSecret(): string {
  return `${PREFIX}${randomBytes(24).toString('base64')}`
}

/**
 * A user-supplied secret is either a Standard Webhooks `whsec_<base64>` secret (its key is the decoded
 * base64), or any other string of 16 to 200 characters (its key is the string's bytes).
 */
export function validateSecret(secret: string): string {
  if (secret.startsWith(PREFIX)) {
    const key = Buffer.from(secret.slice(PREFIX.length), 'base64')
    if (key.length < 16 || key.length > 64 || key.toString('base64') !== secret.slice(PREFIX.length)) {
      throw badInput('a whsec_ secret must hold 16 to 64 bytes of base64', { field: 'secret' })
    }
    return secret
  }
  if (secret.length < 16 || secret.length > 200) {
    throw badInput('secret must be a whsec_ secret, or 16 to 200 characters', { field: 'secret' })
  }
  return secret
}

function keyOf(secret: string): Uint8Array {
  return secret.startsWith(PREFIX) ? Buffer.from(secret.slice(PREFIX.length), 'base64') : Buffer.from(secret, 'utf8')
}

export interface SignatureHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
  'x-webhook-signature': string
  'x-strapi-signature'?: string
}

/** The hex HMAC-SHA256 of `body`, keyed with the secret string as given (a `whsec_` secret too). */
const hexHmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex')

/**
 * Signs `body` with every secret in force (two while a rotated-out secret is still in its grace period).
 * `strapi` adds Strapi's signature, which has room for one: the current secret's.
 */
export function sign(
  secrets: readonly string[],
  messageId: string,
  at: Date,
  body: string,
  { strapi = false } = {},
): SignatureHeaders {
  const hex = secrets.map((secret) => hexHmac(secret, body))
  const headers: SignatureHeaders = {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets
      .map((secret) => new Webhook(keyOf(secret), { format: 'raw' }).sign(messageId, at, body))
      .join(' '),
    'x-webhook-signature': hex.map((signature) => `sha256=${signature}`).join(','),
  }
  if (strapi) headers['x-strapi-signature'] = hex[0]
  return headers
}

export const SIGNATURE_HEADERS: ReadonlySet<string> = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-webhook-signature',
  'x-strapi-signature',
])
