// The webhook list in plain SQL: the same rows, fields and order Prisma gave for every filter and cursor,
// and only the caller's webhooks, through listWebhooks and through the API's pages.
import { beforeAll, describe, expect, it } from 'vitest'
import { db } from '../../src/db/client.ts'
import { patternsFor } from '../../src/events/matching.ts'
import { listWebhooks, type WebhookPage } from '../../src/webhooks/list.ts'
import { createWebhook } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'

const t = useTestHub({ socket: false })
const URL = 'http://127.0.0.1:9/hook'
const OWNER = 'list-owner'
const OTHER = 'list-other'
/** The owner's webhook ids, newest first. */
let ids: string[] = []

beforeAll(async () => {
  const made = []
  for (const [index, input] of [
    { events: ['order.*'], headers: { 'X-Key': 'secret-value-1' }, filters: { min_amount: 100, status: ['ok'] } },
    { events: ['inventory.low_stock'], retryPolicy: { maxRetries: 2, retryDelayMs: 1500, backoffMultiplier: 1.5 } },
    { events: ['*'], isActive: false },
    {
      events: ['order.created', 'order.updated'],
      timeoutMs: 2000,
      connectTimeoutMs: 700,
      maxConcurrency: 3,
      rateLimitPerSecond: 7,
      orderingKey: 'order.id',
      payloadFormat: 'STRAPI' as const,
      transform: '{ "kind": type }',
    },
    { events: ['payment.*'], filters: { $or: [{ amount: { $gte: 5 } }, { currency: 'EUR' }] } },
  ].entries()) {
    made.push(await createWebhook(t, { url: URL, name: `w${index}`, ...input }, OWNER))
    // Another tenant's webhooks interleave with the owner's, by id and by time.
    await createWebhook(t, { url: URL, name: `other${index}`, events: ['*'] }, OTHER)
  }
  // A webhook the hub disabled, with a rotated secret: every nullable column filled.
  await t.data(
    'mutation ($id: ID!) { rotateWebhookSecret(id: $id, gracePeriodSeconds: 60) { secret } }',
    {
      id: made[1]?.id,
    },
    OWNER,
  )
  await db().webhook.update({
    where: { id: made[0]?.id },
    data: { isActive: false, disabledReason: 'HTTP 410 Gone', disabledAt: new Date(), consecutiveFailures: 4 },
  })
  ids = made.map((hook) => hook.id).reverse()
})

/** What the API answered with Prisma before: the oracle the SQL must match. */
const throughPrisma = (tenantId: string, page: WebhookPage) =>
  db().webhook.findMany({
    where: {
      tenantId,
      isActive: page.active,
      events: page.event === undefined ? undefined : { hasSome: patternsFor(page.event) },
      id: { lt: page.after, gt: page.before },
    },
    orderBy: { id: page.inverted ? 'asc' : 'desc' },
    take: page.limit,
  })

describe('listWebhooks', () => {
  it('answers as Prisma did, field for field, for every filter, cursor and direction', async () => {
    const pages: WebhookPage[] = []
    for (const active of [undefined, true, false]) {
      for (const event of [undefined, 'order.created', 'payment.refunded', 'user.signed_up']) {
        for (const [after, before] of [
          [undefined, undefined],
          [ids[1], undefined],
          [undefined, ids[3]],
          [ids[4], ids[0]],
        ]) {
          for (const inverted of [false, true]) pages.push({ active, event, after, before, limit: 3, inverted })
        }
      }
    }
    let rows = 0
    for (const page of pages) {
      const listed = await listWebhooks(OWNER, page)
      expect(listed).toEqual(await throughPrisma(OWNER, page))
      rows += listed.length
    }
    // The comparisons saw rows, every column of them filled somewhere.
    expect(rows).toBeGreaterThan(pages.length)
    const all = await listWebhooks(OWNER, { limit: 10, inverted: false })
    for (const column of Object.keys(all[0] ?? {})) {
      expect(
        all.some((row) => row[column as keyof typeof row] !== null),
        column,
      ).toBe(true)
    }
  })

  it('lists newest first, or oldest first when inverted, never past the limit', async () => {
    const listed = async (page: Partial<WebhookPage>) =>
      (await listWebhooks(OWNER, { limit: 10, inverted: false, ...page })).map((row) => row.id)
    expect(await listed({})).toEqual(ids)
    expect(await listed({ inverted: true })).toEqual([...ids].reverse())
    expect(await listed({ limit: 2 })).toEqual(ids.slice(0, 2))
    expect(await listed({ after: ids[1] })).toEqual(ids.slice(2))
    expect(await listed({ before: ids[3], inverted: true })).toEqual([ids[2], ids[1], ids[0]])
    expect(await listed({ active: false })).toEqual([ids[2], ids[4]])
    expect(await listed({ event: 'inventory.low_stock' })).toEqual([ids[2], ids[3]])
  })

  it('never lists another tenant’s webhooks, even with its cursors', async () => {
    const others = (await listWebhooks(OTHER, { limit: 50, inverted: false })).map((row) => row.id)
    expect(others).toHaveLength(5)
    for (const page of [{}, { after: others[0] }, { before: others[4] }, { event: 'order.created' }]) {
      const rows = await listWebhooks(OWNER, { limit: 50, inverted: false, ...page })
      expect(rows.every((row) => row.tenantId === OWNER && ids.includes(row.id))).toBe(true)
    }
    expect(await listWebhooks('list-nobody', { limit: 50, inverted: false })).toEqual([])
  })
})

describe('webhooks (the API)', () => {
  const PAGE = `query ($first: Int, $after: String, $last: Int, $before: String, $filter: WebhookFilter) {
    webhooks(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      edges { cursor node { id name isActive events } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
  const page = async (variables: Record<string, unknown>, tenant = OWNER) =>
    (await t.data(PAGE, variables, tenant)).webhooks

  it('pages forwards and backwards through the tenant’s webhooks alone', async () => {
    const forwards: string[] = []
    let after: string | undefined
    for (;;) {
      const { edges, pageInfo } = await page({ first: 2, after })
      forwards.push(...edges.map((edge: { cursor: string; node: { id: string } }) => edge.node.id))
      if (!pageInfo.hasNextPage) break
      after = pageInfo.endCursor
    }
    expect(forwards).toEqual(ids)
    const backwards: string[] = []
    let before: string | undefined
    for (;;) {
      const { edges, pageInfo } = await page({ last: 2, before })
      backwards.unshift(...edges.map((edge: { node: { id: string } }) => edge.node.id))
      if (!pageInfo.hasPreviousPage) break
      before = pageInfo.startCursor
    }
    expect(backwards).toEqual(ids)
  })

  it('filters by state and event as before, and refuses an event pattern', async () => {
    const listed = async (filter: object) =>
      (await page({ filter })).edges.map((edge: { node: { id: string } }) => edge.node.id)
    expect(await listed({ active: true })).toEqual([ids[0], ids[1], ids[3]])
    expect(await listed({ event: 'order.updated', active: true })).toEqual([ids[1]])
    const refused = await t.gql(PAGE, { filter: { event: 'order.*' } }, OWNER)
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  })

  it('shows another tenant nothing of the owner’s, even given the owner’s cursors', async () => {
    const seen = [
      ...(await page({ first: 50 }, OTHER)).edges,
      ...(await page({ first: 50, after: ids[4] }, OTHER)).edges,
      ...(await page({ last: 50, before: ids[0] }, OTHER)).edges,
    ].map((edge: { node: { id: string; name: string } }) => edge.node)
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((node) => !ids.includes(node.id) && node.name.startsWith('other'))).toBe(true)
  })
})
