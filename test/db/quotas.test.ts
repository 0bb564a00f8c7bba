// Per-tenant quotas: webhooks and registered event types (CONFLICT with extensions.limit, holding under
// concurrent creates), and the size of a replayDeliveries call (BAD_USER_INPUT), which runs in batches.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebhook } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'

const t = useTestHub({
  socket: false,
  role: 'api',
  env: {
    SWITCHYARD_MAX_WEBHOOKS_PER_TENANT: '3',
    SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT: '2',
    SWITCHYARD_MAX_REPLAY_DELIVERIES: '1200',
  },
})

let sql: pg.Pool
beforeAll(() => {
  sql = new pg.Pool({ connectionString: t.db.url, max: 2 })
})
afterAll(() => sql.end())

const CREATE_WEBHOOK = `mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }`
const REGISTER = 'mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name version } }'

const webhookInput = (name: string) => ({ name, url: 'http://127.0.0.1:9/hook', events: ['*'] })

describe('webhooks per tenant', () => {
  it('lets exactly the quota through when creates race, and refuses the rest with CONFLICT', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.gql(CREATE_WEBHOOK, { input: webhookInput(`racer ${i}`) }, 'racer')),
    )
    const created = results.filter((result) => !result.errors)
    const refused = results.filter((result) => result.errors)
    expect(created).toHaveLength(3)
    expect(refused).toHaveLength(5)
    for (const result of refused) {
      expect(result.errors?.[0]).toMatchObject({
        message: 'a tenant may have at most 3 webhooks; delete one before adding another',
        extensions: { code: 'CONFLICT', quota: 'webhooks', limit: 3 },
      })
    }
    const { rows } = await sql.query("SELECT count(*)::int AS count FROM webhooks WHERE tenant_id = 'racer'")
    expect(rows[0].count).toBe(3)
  })

  it('counts each tenant apart, and frees a place when a webhook is deleted', async () => {
    await createWebhook(t, webhookInput('other tenant'), 'bystander')
    const ids = await Promise.all([1, 2].map((i) => createWebhook(t, webhookInput(`full ${i}`), 'full')))
    await createWebhook(t, webhookInput('full 3'), 'full')
    const over = await t.gql(CREATE_WEBHOOK, { input: webhookInput('full 4') }, 'full')
    expect(over.errors?.[0]?.extensions?.code).toBe('CONFLICT')
    await t.data('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: ids[0]?.id }, 'full')
    expect((await t.gql(CREATE_WEBHOOK, { input: webhookInput('full 4') }, 'full')).errors).toBeUndefined()
  })
})

describe('event types per tenant', () => {
  const register = (name: string, tenant: string, version = '1.0') =>
    t.gql(REGISTER, { input: { name, category: 'billing', version } }, tenant)

  it('lets exactly the quota through when registrations race', async () => {
    const results = await Promise.all(
      ['a.one', 'a.two', 'a.three', 'a.four', 'a.five'].map((name) => register(name, 'cataloguer')),
    )
    expect(results.filter((result) => !result.errors)).toHaveLength(2)
    for (const result of results.filter((result) => result.errors)) {
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', quota: 'event types', limit: 2 })
    }
  })

  it('still takes a new version of a registered type, and does not count deprecated built-in types', async () => {
    expect((await register('b.one', 'versioner')).errors).toBeUndefined()
    await t.data('mutation { deprecateEventType(name: "order.created") { name } }', {}, 'versioner')
    expect((await register('b.two', 'versioner')).errors).toBeUndefined()
    expect(await register('b.two', 'versioner', '2.0')).toEqual({
      data: { registerEventType: { name: 'b.two', version: '2.0' } },
    })
    expect((await register('b.three', 'versioner')).errors?.[0]?.extensions?.code).toBe('CONFLICT')
  })
})

describe('replayDeliveries', () => {
  /** `count` FAILED deliveries of a new webhook of `tenant`, written straight into the log. */
  async function failedDeliveries(tenant: string, count: number): Promise<string> {
    const { id } = await createWebhook(t, webhookInput(`replayed ${count}`), tenant)
    await sql.query(
      `WITH e AS (
         INSERT INTO events (id, tenant_id, type, payload, source, created_at)
         SELECT gen_random_uuid(), $1, 'order.updated', '{}'::json, 'api', now() - g * interval '1 second'
           FROM generate_series(1, $3) g
         RETURNING id, type, created_at)
       INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempt_count, created_at,
                               last_attempt_at, completed_at)
       SELECT gen_random_uuid(), $1, $2, e.id, e.type, 'FAILED', 1, e.created_at, e.created_at, e.created_at FROM e`,
      [tenant, id, count],
    )
    return id
  }

  const statuses = async (webhookId: string) =>
    (
      await sql.query<{ status: string; count: number }>(
        'SELECT status, count(*)::int AS count FROM deliveries WHERE webhook_id = $1 GROUP BY status ORDER BY status',
        [webhookId],
      )
    ).rows

  const REPLAY = 'mutation ($id: ID!) { replayDeliveries(webhookId: $id, since: "2020-01-01T00:00:00Z") }'

  it('requeues more deliveries than one batch holds, every one of them once', async () => {
    const webhookId = await failedDeliveries('replayer', 1100)
    expect(await t.data(REPLAY, { id: webhookId }, 'replayer')).toEqual({ replayDeliveries: 1100 })
    expect(await statuses(webhookId)).toEqual([{ status: 'RETRYING', count: 1100 }])
    const { rows } = await sql.query<{ count: number }>(
      `SELECT count(DISTINCT d.job_id)::int AS count FROM deliveries d WHERE d.webhook_id = $1`,
      [webhookId],
    )
    expect(rows[0]?.count).toBe(1100)
  })

  it('refuses a replay larger than the limit with BAD_USER_INPUT, and requeues nothing', async () => {
    const webhookId = await failedDeliveries('overreacher', 1201)
    const result = await t.gql(REPLAY, { id: webhookId }, 'overreacher')
    expect(result.errors?.[0]).toMatchObject({
      message: 'a replay may requeue at most 1200 deliveries; narrow it with since and until',
      extensions: { code: 'BAD_USER_INPUT', field: 'since', limit: 1200 },
    })
    expect(await statuses(webhookId)).toEqual([{ status: 'FAILED', count: 1201 }])
  })
})
