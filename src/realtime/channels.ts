// PostgreSQL NOTIFY channels. NOTIFY is transactional: listeners hear of an event, an attempt or a job
// only once its transaction has committed, in every hub process on the database.
import type pg from 'pg'

export const CHANNELS = {
  /** A list of EventNotice, for every published event. */
  events: 'switchyard_events',
  /** A list of AttemptNotice, for every completed attempt. */
  attempts: 'switchyard_attempts',
  /** Delivery jobs that are due now were queued: workers fetch at once instead of at their next poll. */
  jobs: 'switchyard_jobs',
  /** A list of tenant ids whose webhooks, integrations or event types changed (caches forget them). */
  tenants: 'switchyard_tenants',
} as const

export interface EventNotice {
  tenantId: string
  eventId: string
  type: string
  /** Deliveries queued with the event, due now: workers wake for them. */
  deliveries: number
  /** Of those, the ordered ones (their jobs are in the ordered queue); absent when none. */
  ordered?: number
}

export interface AttemptNotice {
  tenantId: string
  webhookId: string | null
  integrationId: string | null
  deliveryId: string
  attemptId: string
}

/** A NOTIFY payload must stay under 8000 bytes; notices are sent in lists that fit (in UTF-8 bytes). */
const MAX_PAYLOAD = 7000

/**
 * Which NOTIFY payload each notice (as JSON text) goes in, in order: the notices of one payload, joined as
 * a JSON list, fit in a NOTIFY. Any subset of a payload's notices fits too.
 */
export function payloadIndexes(notices: readonly string[]): number[] {
  const indexes: number[] = []
  let payload = 0
  let size = 2
  for (const text of notices) {
    const bytes = Buffer.byteLength(text)
    if (size > 2 && size + bytes + 1 > MAX_PAYLOAD) {
      payload += 1
      size = 2
    }
    indexes.push(payload)
    size += bytes + 1
  }
  return indexes
}

export async function notifyMany(client: pg.PoolClient, channel: string, notices: readonly unknown[]): Promise<void> {
  const texts = notices.map((notice) => JSON.stringify(notice))
  const payloads: string[][] = []
  for (const [i, payload] of payloadIndexes(texts).entries()) {
    const list = payloads[payload] ?? []
    list.push(texts[i] ?? '')
    payloads[payload] = list
  }
  if (payloads.length === 0) return
  await client.query({
    name: 'notify-many',
    text: 'SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p',
    values: [channel, payloads.map((texts) => `[${texts.join(',')}]`)],
  })
}

export async function notify(client: pg.PoolClient, channel: string, payload = ''): Promise<void> {
  await client.query('SELECT pg_notify($1, $2)', [channel, payload])
}

/**
 * Announces, with the commit of `client`'s transaction, that these tenants' webhooks, integrations or event
 * types changed: every hub process forgets what it cached for them when it hears of it.
 */
export async function notifyTenantsChanged(client: pg.PoolClient, tenantIds: readonly string[]): Promise<void> {
  await notifyMany(client, CHANNELS.tenants, tenantIds)
}
