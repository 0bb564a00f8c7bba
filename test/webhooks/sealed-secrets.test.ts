// Webhook signing secrets (the current one and the rotated-out one) and header values are sealed at rest,
// bound to their webhook and column; the API answers and the deliveries are what they were. Rows an older
// version stored in plain text are sealed at boot, once, whichever processes boot together.
import { randomBytes } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { headerContext, previousSecretContext, secretContext } from '../../src/sealing/fields.ts'
import { sealPlainWebhooks } from '../../src/sealing/reseal.ts'
import { createSealer, isSealed } from '../../src/sealing/sealer.ts'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { TEST_ENCRYPTION_KEY, testConfigEnv, useTestHub } from '../helpers/hub.ts'
import { spawnHub } from '../helpers/process.ts'
import { type ReceivedRequest, type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false, env: { SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true' } })
const sealer = createSealer([TEST_ENCRYPTION_KEY])
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
afterAll(() => sink.close())

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`

interface StoredRow {
  id: string
  secret: string
  previous_secret: string | null
  headers: Record<string, string>
  everything: string
}

async function storedRows(where = 'true', values: unknown[] = []): Promise<StoredRow[]> {
  const { rows } = await pool().query<StoredRow>(
    `SELECT id, secret, previous_secret, headers, to_jsonb(w)::text AS everything FROM webhooks w WHERE ${where} ORDER BY id`,
    values,
  )
  return rows
}

/** Verified with the stock library: a `whsec_` secret as it is, any other by its bytes (as the hub signs). */
const verifies = (secret: string, request: ReceivedRequest) =>
  (secret.startsWith('whsec_')
    ? new StandardWebhook(secret)
    : new StandardWebhook(Buffer.from(secret), { format: 'raw' })
  ).verify(request.body, request.headers as Record<string, string>)

/** The requests the sink got for one event. */
const requestsFor = (eventId: string) =>
  sink.requests.filter((request) => (request.json as { id?: string } | undefined)?.id === eventId)

describe('sealed at rest', () => {
  it('stores no secret or header value in plain text, and answers and delivers as before', async () => {
    const first = newSecret()
    const second = newSecret()
    const token = `Bearer sealed-${randomBytes(8).toString('hex')}`
    const reference = `ref-${randomBytes(8).toString('hex')}`
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.sealed'],
      secret: first,
      headers: { Authorization: token, 'X-Tenant-Ref': reference },
    })
    await t.data(
      'mutation ($id: ID!, $secret: String!) { rotateWebhookSecret(id: $id, gracePeriodSeconds: 3600, secret: $secret) { secret } }',
      { id: hook.id, secret: second },
    )

    const [row] = await storedRows('id = $1', [hook.id])
    expect(isSealed(row?.secret ?? '')).toBe(true)
    expect(isSealed(row?.previous_secret ?? '')).toBe(true)
    expect(Object.keys(row?.headers ?? {}).sort()).toEqual(['Authorization', 'X-Tenant-Ref'])
    for (const value of Object.values(row?.headers ?? {})) expect(isSealed(value)).toBe(true)
    for (const plain of [first, second, token, reference]) expect(row?.everything).not.toContain(plain)

    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { headers secretHint } }', { id: hook.id })
    expect(webhook).toEqual({
      headers: { Authorization: 'Bearer …', 'X-Tenant-Ref': reference },
      secretHint: `${second.slice(0, 9)}…`,
    })

    const event = await publish(t, 'order.sealed', { order_id: 'S-1' })
    const [request] = await eventually(() => {
      const found = requestsFor(event.id)
      expect(found).toHaveLength(1)
      return found
    })
    if (!request) throw new Error('no request')
    expect(verifies(second, request)).toMatchObject({ data: { order_id: 'S-1' } })
    expect(verifies(first, request)).toMatchObject({ data: { order_id: 'S-1' } })
    expect(request.headers).toMatchObject({ authorization: token, 'x-tenant-ref': reference })

    // Nor does the delivery log keep them in clear: the attempt shows each configured value masked.
    const logged = await eventually(async () => {
      const { rows } = await pool().query<{ headers: Record<string, string> }>(
        `SELECT a.request_headers AS headers FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
          WHERE d.event_id = $1`,
        [event.id],
      )
      expect(rows).toHaveLength(1)
      return rows[0]?.headers
    })
    expect(logged).toMatchObject({ authorization: 'Bearer …', 'x-tenant-ref': `${reference.slice(0, 5)}…` })
    for (const plain of [token, reference]) expect(JSON.stringify(logged)).not.toContain(plain)
  })
})

describe('a sealed value moved elsewhere', () => {
  const TEST = `mutation ($id: ID!) { testWebhook(id: $id, event: "order.moved") { status errorType errorMessage } }`

  async function expectRefused(webhookId: string, secretsOfVictim: string[]) {
    const before = sink.requests.length
    const { testWebhook } = await t.data(TEST, { id: webhookId })
    expect(testWebhook).toMatchObject({ status: 'FAILED', errorType: 'INVALID_RESPONSE' })
    expect(testWebhook.errorMessage).toMatch(/cannot be opened/)
    expect(sink.requests.length).toBe(before)
    const shown = await t.gql('query ($id: ID!) { webhook(id: $id) { headers secretHint } }', { id: webhookId })
    for (const secret of secretsOfVictim) expect(JSON.stringify(shown)).not.toContain(secret)
  }

  it('to another tenant’s webhook cannot be opened: nothing is sent, nothing is shown', async () => {
    const token = `Bearer victim-${randomBytes(8).toString('hex')}`
    const victimSecret = newSecret()
    const victim = await createWebhook(
      t,
      { url: sink.url, events: ['order.moved'], secret: victimSecret, headers: { Authorization: token } },
      'tenant-victim',
    )
    const thief = await createWebhook(t, { url: sink.url, events: ['order.moved'] }, 'tenant-a')
    await pool().query(
      `UPDATE webhooks SET secret = v.secret, headers = v.headers FROM webhooks v WHERE webhooks.id = $1 AND v.id = $2`,
      [thief.id, victim.id],
    )
    await expectRefused(thief.id, [token, victimSecret])
  })

  it('to another column or header of its own webhook cannot be opened either', async () => {
    const token = `Bearer own-${randomBytes(8).toString('hex')}`
    const secret = newSecret()
    const asHeader = await createWebhook(t, {
      url: sink.url,
      events: ['order.moved'],
      secret,
      headers: { Authorization: token },
    })
    // A credential moved under a header name the API shows unmasked.
    await pool().query(
      `UPDATE webhooks SET headers = jsonb_build_object('X-Shown', headers->'Authorization') WHERE id = $1`,
      [asHeader.id],
    )
    await expectRefused(asHeader.id, [token])

    const asPrevious = await createWebhook(t, { url: sink.url, events: ['order.moved'], secret })
    await pool().query(
      `UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = now() + interval '1 hour' WHERE id = $1`,
      [asPrevious.id],
    )
    await expectRefused(asPrevious.id, [secret])
  })
})

describe('rows stored in plain text before sealing', () => {
  const TENANT = 'tenant-plain'
  const ROWS = 1100

  it('are sealed at boot, each once, when two processes boot together; then nothing is left to do', async () => {
    const secretOf = (n: number) => `plain-secret-number-${n}-of-the-old-version`
    await pool().query('INSERT INTO tenants (id) VALUES ($1) ON CONFLICT DO NOTHING', [TENANT])
    await pool().query(
      `INSERT INTO webhooks (id, tenant_id, name, url, events, headers, secret, previous_secret,
                             previous_secret_expires_at, updated_at)
       SELECT gen_random_uuid(), $1, 'old ' || n, $2,
              CASE WHEN n = 1 THEN ARRAY['order.legacy'] ELSE ARRAY['order.elsewhere'] END,
              jsonb_build_object('Authorization', 'Bearer old-token-' || n, 'X-Old', 'old-value-' || n),
              'plain-secret-number-' || n || '-of-the-old-version',
              CASE WHEN n = 1 THEN 'plain-previous-secret-of-the-old-version' END,
              CASE WHEN n = 1 THEN now() + interval '1 hour' END, now()
         FROM generate_series(1, $3::int) AS n`,
      [TENANT, sink.url, ROWS],
    )

    const env = await testConfigEnv(t.db.url, { LOG_LEVEL: 'info' })
    const processes = [spawnHub(['api'], env), spawnHub(['api'], env)]
    try {
      await Promise.all(processes.map((hub) => hub.waitFor(/"url":"http/, 60_000)))
    } finally {
      await Promise.all(processes.map((hub) => hub.stop()))
    }
    const sealedByEach = processes.map((hub) =>
      [...hub.output().matchAll(/"webhooks":(\d+)[^\n]*sealed the secrets/g)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      ),
    )
    expect(sealedByEach.reduce((a, b) => a + b, 0)).toBe(ROWS)

    const rows = await storedRows('tenant_id = $1', [TENANT])
    expect(rows).toHaveLength(ROWS)
    for (const row of rows) {
      const n = Number(
        sealer.open(row.headers['X-Old'] ?? '', headerContext(row.id, 'X-Old')).slice('old-value-'.length),
      )
      expect(sealer.open(row.secret, secretContext(row.id))).toBe(secretOf(n))
      expect(sealer.open(row.headers.Authorization ?? '', headerContext(row.id, 'Authorization'))).toBe(
        `Bearer old-token-${n}`,
      )
      if (row.previous_secret !== null) {
        expect(sealer.open(row.previous_secret, previousSecretContext(row.id))).toBe(
          'plain-previous-secret-of-the-old-version',
        )
      }
      expect(row.everything).not.toContain('plain-')
      expect(row.everything).not.toContain('old-token-')
    }

    expect(await sealPlainWebhooks(sealer)).toBe(0)
    expect(await storedRows('tenant_id = $1', [TENANT])).toEqual(rows)

    const event = await publish(t, 'order.legacy', { order_id: 'L-1' }, { tenant: TENANT })
    const [first] = await eventually(() => {
      const found = requestsFor(event.id)
      expect(found).toHaveLength(1)
      return found
    })
    if (!first) throw new Error('the old webhook got nothing')
    expect(first.headers['x-old']).toBe('old-value-1')
    expect(verifies(secretOf(1), first)).toMatchObject({ data: { order_id: 'L-1' } })
    expect(verifies('plain-previous-secret-of-the-old-version', first)).toMatchObject({ data: { order_id: 'L-1' } })
    expect(first.headers.authorization).toBe('Bearer old-token-1')
  })
})
