// Sealing stored rows in place. At boot: the webhook secrets and header values stored before they were sealed.
// In `npm run rotate-key`: every sealed value, of webhooks and integrations, not under the current key.
// Rows go in batches, each its own transaction holding an advisory lock, so processes booting at once take
// turns (a row sealed by one no longer matches for the next), and a run cut short is finished by the next.
import type pg from 'pg'
import { pool, transaction } from '../db/client.ts'
import { type Headers, integrationSecretsContext, resealValue, resealWebhook } from './fields.ts'
import { SEALED_FORMAT, SEALED_KEY_ID, SealError, type Sealer } from './sealer.ts'

/** Taken by every batch that seals rows in place. */
const RESEAL_LOCK = 73_616_561
const BATCH_SIZE = 500
const NO_ID = '00000000-0000-0000-0000-000000000000'

interface WebhookRow {
  id: string
  secret: string
  previous_secret: string | null
  headers: Headers
}

/**
 * Runs `reseal` on the rows `select` finds ($1: the last id done, $2: the pattern of values to keep, $3: the
 * batch size), batch by batch, in id order. Returns the rows it changed.
 */
async function inBatches<Row extends { id: string }>(
  select: string,
  kept: RegExp,
  reseal: (client: pg.PoolClient, rows: Row[]) => Promise<number>,
): Promise<number> {
  let changed = 0
  let after = NO_ID
  for (;;) {
    const batch = await transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [RESEAL_LOCK])
      const { rows } = await client.query<Row>(select, [after, kept.source, BATCH_SIZE])
      return { rows: rows.length, last: rows.at(-1)?.id, changed: rows.length ? await reseal(client, rows) : 0 }
    })
    changed += batch.changed
    if (batch.rows < BATCH_SIZE || !batch.last) return changed
    after = batch.last
  }
}

/** The error of one row, naming it: a rotation stops there, and what it did so far stays done. */
function naming<T>(what: string, id: string, work: () => T): T {
  try {
    return work()
  } catch (error) {
    throw new SealError(`${what} ${id}: ${(error as Error).message}`)
  }
}

/** Seals each webhook column whose value does not match `kept`. Returns the webhooks changed. */
const resealWebhooks = (sealer: Sealer, kept: RegExp) =>
  inBatches<WebhookRow>(
    `SELECT id, secret, previous_secret, headers FROM webhooks
      WHERE id > $1 AND (secret !~ $2 OR previous_secret !~ $2
            OR EXISTS (SELECT 1 FROM jsonb_each_text(headers) AS header WHERE header.value !~ $2))
      ORDER BY id LIMIT $3 FOR UPDATE`,
    kept,
    async (client, rows) => {
      const resealed = rows.flatMap((row) => {
        const stored = { id: row.id, secret: row.secret, previousSecret: row.previous_secret, headers: row.headers }
        const columns = naming('webhook', row.id, () => resealWebhook(sealer, stored, (value) => kept.test(value)))
        return columns ? [{ ...columns, previous_secret: columns.previousSecret }] : []
      })
      await client.query(
        `UPDATE webhooks AS w SET secret = v.secret, previous_secret = v.previous_secret, headers = v.headers
           FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, secret text, previous_secret text, headers jsonb)
          WHERE w.id = v.id`,
        [JSON.stringify(resealed)],
      )
      return resealed.length
    },
  )

/** Seals each integration's secrets that do not match `kept`. Returns the integrations changed. */
const resealIntegrations = (sealer: Sealer, kept: RegExp) =>
  inBatches<{ id: string; secrets: string }>(
    'SELECT id, secrets FROM integrations WHERE id > $1 AND secrets !~ $2 ORDER BY id LIMIT $3 FOR UPDATE',
    kept,
    async (client, rows) => {
      const resealed = rows.map((row) => ({
        id: row.id,
        secrets: naming('integration', row.id, () =>
          resealValue(sealer, row.secrets, integrationSecretsContext(row.id)),
        ),
      }))
      await client.query(
        `UPDATE integrations AS i SET secrets = v.secrets
           FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, secrets text)
          WHERE i.id = v.id`,
        [JSON.stringify(resealed)],
      )
      return resealed.length
    },
  )

/** At boot: seals the webhook secrets and header values still stored in plain text. Returns the webhooks sealed. */
export const sealPlainWebhooks = (sealer: Sealer) => resealWebhooks(sealer, SEALED_FORMAT)

/** `npm run rotate-key`: seals every value not under the current key again under it. */
export async function resealUnderCurrentKey(sealer: Sealer): Promise<{ webhooks: number; integrations: number }> {
  const current = new RegExp(`^v2:${sealer.currentKeyId}:`)
  return { webhooks: await resealWebhooks(sealer, current), integrations: await resealIntegrations(sealer, current) }
}

/**
 * Refuses to go on when stored values are sealed under a key the sealer does not hold: every delivery and
 * answer that needs them would fail. (Format v1 values name no key; opening them tells.)
 */
export async function assertKeysListed(sealer: Sealer): Promise<void> {
  const { rows } = await pool().query<{ key_id: string; count: number }>(
    `SELECT key_id, count(*)::int AS count
       FROM (SELECT substring(value from $1) AS key_id
               FROM (SELECT secret AS value FROM webhooks
                     UNION ALL SELECT previous_secret FROM webhooks WHERE previous_secret IS NOT NULL
                     UNION ALL SELECT header.value FROM webhooks CROSS JOIN LATERAL jsonb_each_text(headers) AS header
                     UNION ALL SELECT secrets FROM integrations WHERE secrets IS NOT NULL) AS stored
              WHERE value ~ $2) AS sealed
      WHERE key_id IS NOT NULL
      GROUP BY key_id`,
    [SEALED_KEY_ID.source, SEALED_FORMAT.source],
  )
  const unknown = rows.filter((row) => !sealer.keyIds.includes(row.key_id))
  if (unknown.length === 0) return
  const count = unknown.reduce((sum, row) => sum + row.count, 0)
  throw new SealError(
    `${count} stored secret value(s) are sealed under key ${unknown.map((row) => row.key_id).join(', ')}, which ` +
      'SWITCHYARD_ENCRYPTION_KEY does not list. List that key after the current one (separated by a comma), ' +
      'then run `npm run rotate-key` before removing it.',
  )
}
