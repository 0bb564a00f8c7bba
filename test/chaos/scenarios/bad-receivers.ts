// 3. Receivers that misbehave for a while (slow, 500, down, garbage, a huge body, a body that never ends)
// and then heal, beside a healthy one, all webhooks of one tenant with a short retry policy. Every event
// reaches every receiver in the end, retries keep to the policy, and the healthy webhook is not slowed.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'vitest'
import { createCluster, createWebhook, graphqlClient, newPublishLog, publishPlan } from '../cluster.ts'
import { useScenarioKit } from '../kit.ts'
import { type Behaviour, type Ledger, type LedgerEntry, startLedger } from '../ledger.ts'
import { conclude, deliveryChecks, figures, latencyNote, millis, p99, seconds } from '../results.ts'
import { type Scale, TARGETS } from '../scale.ts'
import { percentile, tally, waitForDeliveries } from '../tally.ts'

const TENANT = 'chaos-receivers'
const POLICY = { maxRetries: 15, retryDelayMs: 500, backoffMultiplier: 1.5 }
/** The hub spreads each retry over ±20% of its nominal delay. */
const JITTER = 0.2

interface Misbehaviour {
  name: string
  behaviour: Behaviour | 'down'
  /** Webhook settings beyond the defaults. */
  timeoutMs?: number
  /** Its receiver answers at once, so the time between two requests is the retry delay. */
  checkRetries?: boolean
}

const MISBEHAVIOURS: Misbehaviour[] = [
  { name: 'slow', behaviour: { kind: 'ok', delayMs: 10_000 } },
  { name: 'failing', behaviour: { kind: 'status', status: 500 }, checkRetries: true },
  { name: 'down', behaviour: 'down' },
  { name: 'garbage', behaviour: { kind: 'garbage' }, checkRetries: true },
  { name: 'huge', behaviour: { kind: 'huge', bytes: 64 * 1024 * 1024 } },
  { name: 'endless', behaviour: { kind: 'endless' }, timeoutMs: 3_000 },
]

const nominalDelayMs = (retry: number) => POLICY.retryDelayMs * POLICY.backoffMultiplier ** (retry - 1)

/** How a receiver's requests kept to the retry policy. */
function retryTimings(ledger: Ledger) {
  const byEvent = new Map<string, LedgerEntry[]>()
  for (const entry of ledger.entries) byEvent.set(entry.eventId, [...(byEvent.get(entry.eventId) ?? []), entry])
  let retries = 0
  let tooMany = 0
  const early: string[] = []
  const lateMs: number[] = []
  for (const entries of byEvent.values()) {
    entries.sort((a, b) => a.receivedAt - b.receivedAt)
    if (entries.length > POLICY.maxRetries + 1) tooMany += 1
    for (let i = 1; i < entries.length; i += 1) {
      const [previous, current] = [entries[i - 1], entries[i]] as [LedgerEntry, LedgerEntry]
      const retry = current.attempt - 1
      const gap = current.receivedAt - previous.receivedAt
      const nominal = nominalDelayMs(retry)
      retries += 1
      // The delay starts once the hub has the failed answer, after we sent it: a gap can only be longer.
      if (gap < nominal * (1 - JITTER) - 10)
        early.push(`retry ${retry} after ${gap} ms (nominal ${Math.round(nominal)})`)
      lateMs.push(Math.max(0, gap - nominal * (1 + JITTER)))
    }
  }
  return { retries, tooMany, early, lateP99: percentile(lateMs, 99) }
}

export function describeBadReceivers(scale: Scale) {
  const s = scale.badReceivers
  describe('3. misbehaving receivers beside a healthy one', () => {
    const kit = useScenarioKit()

    it('delivers everything once they heal, on the retry policy, without slowing the healthy one', {
      timeout: s.misbehaveMs + s.capMs + 180_000,
    }, async () => {
      const began = Date.now()
      kit.mark('hubs')
      const cluster = await createCluster(kit.db.url)
      kit.defer(() => cluster.killAll())
      const [api] = await Promise.all([cluster.start('api'), cluster.start('worker')])
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())

      const healthy = await startLedger('healthy')
      kit.defer(() => healthy.close())
      await createWebhook(gql, TENANT, { name: 'healthy', url: healthy.url, retryPolicy: POLICY })
      const bad = await Promise.all(
        MISBEHAVIOURS.map(async (misbehaviour) => {
          const ledger = await startLedger(misbehaviour.name)
          kit.defer(() => ledger.close())
          await createWebhook(gql, TENANT, {
            name: misbehaviour.name,
            url: ledger.url,
            retryPolicy: POLICY,
            ...(misbehaviour.timeoutMs ? { timeoutMs: misbehaviour.timeoutMs } : {}),
          })
          if (misbehaviour.behaviour === 'down') await ledger.down()
          else ledger.behave(misbehaviour.behaviour)
          return { ...misbehaviour, ledger }
        }),
      )

      kit.mark('misbehaving')
      const log = newPublishLog()
      const publishing = publishPlan(gql, log, {
        tenant: TENANT,
        type: 'chaos.mixed',
        count: Math.round((s.rate * s.misbehaveMs) / 1000),
        rate: s.rate,
        prefix: 'mixed',
        concurrency: 4,
      })
      await sleep(s.misbehaveMs)
      const healedAt = Date.now()
      for (const { ledger, behaviour } of bad) {
        if (behaviour === 'down') await ledger.up()
        ledger.behave({ kind: 'ok' })
      }
      kit.mark('healed')
      await publishing
      const ids = log.accepted.map((event) => event.id)
      const everyone = [healthy, ...bad.map(({ ledger }) => ledger)]
      const expectations = everyone.map((ledger) => ({ ledger, eventIds: ids }))
      const recovered = await waitForDeliveries(expectations, s.capMs)
      kit.mark('settle')
      await sleep(1_000)

      const t = tally(expectations)
      const healthyTally = tally([{ ledger: healthy, eventIds: ids }])
      const healthyP99 = p99(healthyTally)
      const recoveryMs = recovered ? Math.max(0, t.lastDeliveredAt - healedAt) : null
      const perReceiver = everyone.map((ledger) => {
        const own = tally([{ ledger, eventIds: ids }])
        return `${ledger.name} ${own.delivered}/${own.expected} (${ledger.entries.length} requests, ${own.duplicates} duplicates)`
      })
      const timings = bad
        .filter((receiver) => receiver.checkRetries)
        .map((receiver) => ({ name: receiver.name, ...retryTimings(receiver.ledger) }))

      await conclude(
        {
          order: 3,
          id: 'bad-receivers',
          title: 'Misbehaving receivers beside a healthy one',
          scale: scale.name,
          eventsSent: log.accepted.length,
          endpoints: everyone.length,
          ...figures(t),
          recoveryMs: recoveryMs ?? 'unrecovered',
          healthyP99Ms: healthyP99,
          notes: [
            `${s.rate} events/s for ${seconds(s.misbehaveMs)} of misbehaviour, retry policy ${POLICY.retryDelayMs} ms × ${POLICY.backoffMultiplier}`,
            latencyNote('healthy webhook', healthyTally),
            `per receiver: ${perReceiver.join(', ')}`,
            ...timings.map(
              (timing) =>
                `${timing.name}: ${timing.retries} retries, none more than ${POLICY.maxRetries}: ${timing.tooMany === 0}, ` +
                `${timing.early.length} early, p99 ${millis(timing.lateP99)} later than its delay + 20%`,
            ),
            recovered ? `recovered ${seconds(recoveryMs)} after the heal` : `not recovered within ${seconds(s.capMs)}`,
          ],
          checks: [
            ...deliveryChecks(t),
            ...timings.map((timing) => ({
              name: `${timing.name}: no retry before its delay, none beyond maxRetries`,
              ok: timing.early.length === 0 && timing.tooMany === 0,
              actual: `${timing.early.length} early${timing.early.length ? ` (${timing.early.slice(0, 3).join('; ')})` : ''}, ${timing.tooMany} events over the limit`,
            })),
            {
              name: 'the healthy webhook got each event once',
              ok: healthyTally.lost === 0 && healthy.entries.length === ids.length,
              actual: `${healthy.entries.length} requests for ${ids.length} events`,
            },
            {
              name: `healthy p99 < ${TARGETS.healthyP99Ms} ms`,
              ok: healthyP99 !== null && healthyP99 < TARGETS.healthyP99Ms,
              actual: millis(healthyP99),
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
