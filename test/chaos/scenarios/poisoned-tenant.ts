// 4. A tenant whose webhooks are poison: one carries a header no HTTP client will send, eight point at a
// tarpit (connections accepted, never answered) with 50 attempts in flight each, and all keep retrying.
// Beside it a healthy tenant publishes at a steady rate: each of its events arrives exactly once, is
// logged SUCCEEDED, and arrives quickly.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'vitest'
import { headerContext } from '../../../src/sealing/fields.ts'
import { createSealer } from '../../../src/sealing/sealer.ts'
import { TEST_ENCRYPTION_KEY } from '../../helpers/hub.ts'
import {
  type Cluster,
  createCluster,
  createWebhook,
  type GraphQLClient,
  graphqlClient,
  newPublishLog,
  publishPlan,
  sql,
} from '../cluster.ts'
import { until, useScenarioKit } from '../kit.ts'
import { startLedger, startTarpit } from '../ledger.ts'
import { conclude, deliveryChecks, figures, latencyNote, millis, p99 } from '../results.ts'
import { type Scale, TARGETS } from '../scale.ts'
import { tally, waitForDeliveries } from '../tally.ts'

const POISONED = 'chaos-poisoned'
const HEALTHY = 'chaos-healthy'
const POISONOUS_HEADER = 'abcde😀tail'
const TARPIT_WEBHOOKS = 8

/**
 * The webhook with the poisonous header: through createWebhook while the hub takes it, else as an old
 * row from before header validation would be, written straight into the table. Says which it was.
 */
async function createPoisonedWebhook(cluster: Cluster, gql: GraphQLClient, url: string): Promise<string> {
  const spec = {
    name: 'poisoned header',
    url,
    maxConcurrency: 50,
    retryPolicy: { maxRetries: 20, retryDelayMs: 1000, backoffMultiplier: 1 },
  }
  const attempt = await gql.request<{ createWebhook: { webhook: { id: string } } }>(
    POISONED,
    'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
    { input: { events: ['chaos.*'], ...spec, headers: { authorization: POISONOUS_HEADER } } },
  )
  if (attempt.data?.createWebhook.webhook.id) return 'accepted by createWebhook'
  const created = await createWebhook(gql, POISONED, { ...spec, headers: { authorization: 'placeholder' } })
  // Sealed, as every stored header value is.
  const sealed = createSealer([TEST_ENCRYPTION_KEY]).seal(POISONOUS_HEADER, headerContext(created, 'authorization'))
  await sql(
    cluster.databaseUrl,
    `UPDATE webhooks SET headers = jsonb_build_object('authorization', $1::text) WHERE id = $2`,
    [sealed, created],
  )
  return `refused by createWebhook (${attempt.errors?.[0]?.extensions?.code}), so written with SQL`
}

interface DeliveryNode {
  eventId: string
  status: string
}

/** Every delivery of a webhook, read back through the `deliveries` query, page by page. */
async function allDeliveries(gql: GraphQLClient, tenant: string, webhookId: string): Promise<DeliveryNode[]> {
  const nodes: DeliveryNode[] = []
  let after: string | null = null
  for (;;) {
    const data: {
      deliveries: { edges: Array<{ node: DeliveryNode }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
    } = await gql.data(
      tenant,
      `query ($id: ID!, $after: String) {
         deliveries(webhookId: $id, first: 100, after: $after) {
           edges { node { eventId status } }
           pageInfo { hasNextPage endCursor }
         }
       }`,
      { id: webhookId, after },
    )
    nodes.push(...data.deliveries.edges.map((edge) => edge.node))
    if (!data.deliveries.pageInfo.hasNextPage) return nodes
    after = data.deliveries.pageInfo.endCursor
  }
}

const countBy = <T>(items: readonly T[], key: (item: T) => string) =>
  items.reduce<Record<string, number>>((counts, item) => {
    counts[key(item)] = (counts[key(item)] ?? 0) + 1
    return counts
  }, {})

export function describePoisonedTenant(scale: Scale) {
  const s = scale.poisonedTenant
  describe('4. a poisoned tenant with tarpit webhooks beside a healthy tenant', () => {
    const kit = useScenarioKit()

    it("delivers the healthy tenant's events exactly once, SUCCEEDED", {
      timeout: s.durationMs + s.capMs + 120_000,
    }, async () => {
      const began = Date.now()
      kit.mark('hubs')
      // The attacker's webhooks are never disabled for failing: the worst case for their neighbours.
      const cluster = await createCluster(kit.db.url, { SWITCHYARD_MAX_CONSECUTIVE_FAILURES: '100000' })
      kit.defer(() => cluster.killAll())
      const [api] = await Promise.all([cluster.start('api'), cluster.start('worker')])
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())
      const tarpit = await startTarpit()
      kit.defer(() => tarpit.close())
      const healthy = await startLedger('healthy')
      kit.defer(() => healthy.close())

      const poisonedHow = await createPoisonedWebhook(cluster, gql, tarpit.url)
      for (let n = 0; n < TARPIT_WEBHOOKS; n += 1) {
        await createWebhook(gql, POISONED, {
          name: `tarpit ${n}`,
          url: tarpit.url,
          maxConcurrency: 50,
          retryPolicy: { maxRetries: 20, retryDelayMs: 1000, backoffMultiplier: 1 },
        })
      }
      const healthyWebhook = await createWebhook(gql, HEALTHY, { name: 'healthy', url: healthy.url })

      kit.mark('attack')
      const poisonLog = newPublishLog()
      const healthyLog = newPublishLog()
      const seconds = s.durationMs / 1000
      const poisonPublishing = publishPlan(gql, poisonLog, {
        tenant: POISONED,
        type: 'chaos.poison',
        count: Math.round(s.poisonRate * seconds),
        rate: s.poisonRate,
        prefix: 'poison',
        concurrency: 8,
      })
      // The healthy tenant starts once the attack is under way (or after 15 s, whatever the attacker got).
      await until('the tarpit to fill', () => tarpit.connections() >= 100, 15_000).catch(() => {})
      const tarpitAtStart = tarpit.connections()
      kit.mark('healthy publishing')
      await publishPlan(gql, healthyLog, {
        tenant: HEALTHY,
        type: 'chaos.healthy',
        count: Math.round(s.healthyRate * seconds),
        rate: s.healthyRate,
        prefix: 'healthy',
        concurrency: 4,
      })
      kit.mark('healthy deliveries')
      const publishedAt = Date.now()
      const expectations = [{ ledger: healthy, eventIds: healthyLog.accepted.map((event) => event.id) }]
      await waitForDeliveries(expectations, s.capMs)
      const waitedMs = Date.now() - publishedAt
      kit.mark('settle')
      await sleep(2_000) // a retry or a duplicate would show up meanwhile
      const t = tally(expectations)
      const requests = healthy.entries.length

      // The log, read back the way a user would: every healthy delivery SUCCEEDED (recording may trail).
      const everySucceeded = (list: DeliveryNode[]) =>
        list.length === t.expected && list.every((delivery) => delivery.status === 'SUCCEEDED')
      kit.mark('log')
      const logDeadline = Date.now() + 15_000
      let deliveries = await allDeliveries(gql, HEALTHY, healthyWebhook)
      while (!everySucceeded(deliveries) && Date.now() < logDeadline) {
        await sleep(500)
        deliveries = await allDeliveries(gql, HEALTHY, healthyWebhook)
      }
      const statuses = countBy(deliveries, (delivery) => delivery.status)
      const latencyP99 = p99(t)
      await poisonPublishing

      await conclude(
        {
          order: 4,
          id: 'poisoned-tenant',
          title: 'Poisoned tenant with tarpit webhooks beside a healthy tenant',
          scale: scale.name,
          eventsSent: healthyLog.accepted.length,
          endpoints: 1,
          ...figures(t),
          recoveryMs: null,
          healthyP99Ms: latencyP99,
          notes: [
            `healthy tenant ${s.healthyRate}/s, poisoned tenant ${s.poisonRate}/s to 1 + ${TARPIT_WEBHOOKS} webhooks for ${seconds} s`,
            `the poisonous header was ${poisonedHow}`,
            `tarpit held ${tarpitAtStart} connections when the healthy tenant started, ${tarpit.connections()} by the end`,
            latencyNote('healthy tenant', t),
            `healthy deliveries logged: ${JSON.stringify(statuses)}`,
            `healthy receiver got ${requests} requests for ${t.expected} events`,
            `last healthy delivery ${(waitedMs / 1000).toFixed(1)} s after the last publish`,
          ],
          checks: [
            ...deliveryChecks(t),
            {
              name: 'each healthy event arrived exactly once',
              ok: requests === t.expected && t.duplicates === 0,
              actual: `${requests} requests, ${t.duplicates} duplicates, for ${t.expected} events`,
            },
            {
              name: 'every healthy delivery logged SUCCEEDED',
              ok: everySucceeded(deliveries),
              actual: `${JSON.stringify(statuses)} of ${t.expected}`,
            },
            {
              name: `healthy p99 < ${TARGETS.healthyP99Ms} ms`,
              ok: latencyP99 !== null && latencyP99 < TARGETS.healthyP99Ms,
              actual: millis(latencyP99),
              fullScaleOnly: true,
            },
          ],
          durationMs: Date.now() - began,
        },
        scale,
        kit.phases(),
      )
    })
  })
}
