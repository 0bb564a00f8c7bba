// webhookStats and deliveryStats against a count the test makes itself, from what the receiver saw.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createWebhook, deliveriesOf, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })
let sink: Receiver
const seen = new Map<string, number>()

beforeAll(async () => {
  // The payload's `mode` decides the answer: fail (always 500), flaky (503 once, then 200),
  // reject (always 400), hang (never answers) or ok.
  sink = await startReceiver((request) => {
    const { id, data } = request.json as { id: string; data: { mode: string } }
    const count = (seen.get(id) ?? 0) + 1
    seen.set(id, count)
    if (data.mode === 'fail') return { status: 500 }
    if (data.mode === 'reject') return { status: 400 }
    if (data.mode === 'flaky' && count === 1) return { status: 503 }
    if (data.mode === 'hang') return { hang: true }
    return undefined
  })
})
afterAll(() => sink.close())

const PLAN: Array<[string, string, number]> = [
  ['order.created', 'ok', 6],
  ['order.created', 'fail', 2],
  ['order.updated', 'flaky', 3],
  ['order.updated', 'reject', 1],
  ['order.shipped', 'hang', 1],
  ['inventory.low_stock', 'ok', 2],
]

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = p * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return Math.round((sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (rank - low))
}

it('computes stats equal to an independent count of what the receiver saw', { timeout: 90_000 }, async () => {
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['order.*', 'inventory.*'],
    // Only the endpoint that never answers times out, however busy the machine (the hub and this receiver
    // share one event loop here): any other timeout would add an attempt the independent count has not.
    timeoutMs: 3000,
    retryPolicy: { maxRetries: 1, retryDelayMs: 100 },
  })
  for (const [type, mode, count] of PLAN) {
    for (let i = 0; i < count; i++) {
      await publish(t, type, {
        order_id: `${mode}-${i}`,
        status: 'confirmed',
        product_id: 1,
        current_stock: 1,
        amount: 1,
        mode,
      })
    }
  }
  await t.data('mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status } }', { id: hook.id })
  const total = PLAN.reduce((sum, [, , count]) => sum + count, 0)
  const deliveries = await eventually(async () => {
    const all = (await deliveriesOf(t, hook.id)).filter((d) => !d.isTest)
    expect(all).toHaveLength(total)
    expect(all.every((d) => ['SUCCEEDED', 'FAILED'].includes(d.status))).toBe(true)
    return all
  }, 45_000)

  // The independent count: from the receiver's log, per event id, what the last answer was.
  const requestsByEvent = new Map<string, { type: string; mode: string; requests: number }>()
  for (const request of sink.requests) {
    const body = request.json as { id: string; type: string; data: { mode?: string } }
    if (!body.data.mode) continue
    const entry = requestsByEvent.get(body.id) ?? { type: body.type, mode: body.data.mode, requests: 0 }
    entry.requests += 1
    requestsByEvent.set(body.id, entry)
  }
  const events = [...requestsByEvent.values()]
  const succeeded = events.filter((e) => e.mode === 'ok' || e.mode === 'flaky').length
  const failed = events.length - succeeded
  const retries = events.reduce((sum, e) => sum + e.requests - 1, 0)
  expect(events).toHaveLength(total)
  expect([succeeded, failed, retries]).toEqual([11, 4, 7])

  const { webhookStats, webhook } = await t.data(
    `query ($id: ID!) {
       webhookStats(id: $id, groupBy: HOUR) {
         summary { totalEvents successfulDeliveries failedDeliveries pendingDeliveries successRate avgResponseTimeMs p95ResponseTimeMs totalRetries }
         eventsByType { event count successRate }
         timeSeries { bucket total successful failed }
         errorBreakdown { errorType count percentage }
       }
       webhook(id: $id) { successCount failureCount successRate lastTriggeredAt
         deliveryStats { totalDeliveries successfulDeliveries failedDeliveries avgResponseTimeMs p95ResponseTimeMs lastResponseTimeMs } }
     }`,
    { id: hook.id },
  )
  const rate = (ok: number, all: number) => Math.round((ok / all) * 1000) / 10
  const attempts = deliveries.flatMap((d) => d.attempts)
  expect(attempts).toHaveLength(sink.requests.length - 1)
  const times = attempts.map((a) => a.responseTimeMs)
  const avg = Math.round(times.reduce((a, b) => a + b, 0) / times.length)

  expect(webhookStats.summary).toEqual({
    totalEvents: total,
    successfulDeliveries: succeeded,
    failedDeliveries: failed,
    pendingDeliveries: 0,
    successRate: rate(succeeded, total),
    avgResponseTimeMs: avg,
    p95ResponseTimeMs: percentile(times, 0.95),
    totalRetries: retries,
  })
  const byType = new Map<string, { count: number; ok: number }>()
  for (const e of events) {
    const entry = byType.get(e.type) ?? { count: 0, ok: 0 }
    entry.count += 1
    if (e.mode === 'ok' || e.mode === 'flaky') entry.ok += 1
    byType.set(e.type, entry)
  }
  expect(webhookStats.eventsByType).toEqual(
    [...byType.entries()]
      .map(([event, { count, ok }]) => ({ event, count, successRate: rate(ok, count) }))
      .sort((a, b) => b.count - a.count || a.event.localeCompare(b.event)),
  )
  const failedAttempts = events.reduce(
    (counts, e) => {
      const failures = e.mode === 'ok' ? 0 : e.mode === 'flaky' ? 1 : e.requests
      const type = { fail: 'HTTP_5XX', flaky: 'HTTP_5XX', reject: 'HTTP_4XX', hang: 'TIMEOUT' }[e.mode]
      if (type) counts[type] = (counts[type] ?? 0) + failures
      return counts
    },
    {} as Record<string, number>,
  )
  const failuresTotal = Object.values(failedAttempts).reduce((a, b) => a + b, 0)
  expect(webhookStats.errorBreakdown).toEqual(
    Object.entries(failedAttempts)
      .map(([errorType, count]) => ({ errorType, count, percentage: Math.round((1000 * count) / failuresTotal) / 10 }))
      .sort((a, b) => b.count - a.count || a.errorType.localeCompare(b.errorType)),
  )
  expect(webhookStats.timeSeries.reduce((sum: number, b: { total: number }) => sum + b.total, 0)).toBe(total)
  expect(webhookStats.timeSeries.length).toBeGreaterThanOrEqual(48)

  expect(webhook).toMatchObject({
    successCount: succeeded,
    failureCount: failed,
    successRate: rate(succeeded, total),
    deliveryStats: {
      totalDeliveries: total,
      successfulDeliveries: succeeded,
      failedDeliveries: failed,
      avgResponseTimeMs: avg,
      p95ResponseTimeMs: percentile(times, 0.95),
    },
  })
  const latest = attempts.reduce((a, b) => (Date.parse(a.startedAt) >= Date.parse(b.startedAt) ? a : b))
  expect(webhook.deliveryStats.lastResponseTimeMs).toBe(latest.responseTimeMs)

  const { deliveries: listed } = await t.data(
    'query ($id: ID!) { deliveries(webhookId: $id, test: false, status: FAILED) { summary { total successful failed pending pendingRetry } edges { node { id } } } }',
    { id: hook.id },
  )
  expect(listed.summary).toEqual({ total, successful: succeeded, failed, pending: 0, pendingRetry: 0 })
  expect(listed.edges).toHaveLength(failed)

  const empty = await t.data(
    'query ($id: ID!) { webhookStats(id: $id, from: "2020-01-01T00:00:00Z", to: "2020-01-08T00:00:00Z") { summary { totalEvents successRate } timeSeries { total } } }',
    { id: hook.id },
  )
  expect(empty.webhookStats.summary).toEqual({ totalEvents: 0, successRate: null })
  expect(empty.webhookStats.timeSeries).toHaveLength(7)
})

it('refuses a period that is empty or holds too many buckets', async () => {
  const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] })
  const query =
    'query ($id: ID!, $from: DateTime, $to: DateTime, $by: StatsGroupBy!) { webhookStats(id: $id, from: $from, to: $to, groupBy: $by) { summary { totalEvents } } }'
  const backwards = await t.gql(query, {
    id: hook.id,
    from: '2024-02-01T00:00:00Z',
    to: '2024-01-01T00:00:00Z',
    by: 'DAY',
  })
  expect(backwards.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
  const tooMany = await t.gql(query, {
    id: hook.id,
    from: '2000-01-01T00:00:00Z',
    to: '2024-01-01T00:00:00Z',
    by: 'HOUR',
  })
  expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
})

it('averages the success rates of the tenant’s webhooks, its integrations left out', async () => {
  const tenant = 'tenant-summary'
  const failing = await startReceiver(() => ({ status: 500 }))
  try {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] }, tenant)
    // Each of the integration's deliveries fails at once: as many failures as the webhook has successes.
    await t.data(
      `mutation ($input: ConfigureIntegrationInput!) {
         configureIntegration(name: "zapier", input: $input) { integration { id } }
       }`,
      {
        input: {
          config: { hook_url: failing.url },
          notifications: { 'order.created': true },
          retryPolicy: { maxRetries: 0 },
        },
      },
      tenant,
    )
    for (let i = 0; i < 2; i++) {
      await publish(t, 'order.created', { order_id: `S-${i}`, status: 'confirmed', amount: 1, mode: 'ok' }, { tenant })
    }
    await eventually(async () => {
      const { deliveries } = await t.data('{ deliveries(first: 10) { summary { successful failed } } }', {}, tenant)
      expect(deliveries.summary).toEqual({ successful: 2, failed: 2 })
    })
    const { webhooks } = await t.data(
      '{ webhooks { summary { totalWebhooks activeWebhooks totalEvents avgSuccessRate } } }',
      {},
      tenant,
    )
    expect(webhooks.summary).toEqual({ totalWebhooks: 1, activeWebhooks: 1, totalEvents: 2, avgSuccessRate: 100 })
    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { successRate } }', { id: hook.id }, tenant)
    expect(webhook.successRate).toBe(100)
  } finally {
    await failing.close()
  }
})
