// 1. A worker process is SIGKILLed in the middle of a burst, and a new one started: every event still
// arrives. Recovery time: from the kill to the last event's first delivery.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'vitest'
import {
  createCluster,
  createWebhook,
  deliveryJobStates,
  graphqlClient,
  newPublishLog,
  publishPlan,
} from '../cluster.ts'
import { until, useScenarioKit } from '../kit.ts'
import { acceptedCount, startLedger } from '../ledger.ts'
import { conclude, deliveryChecks, figures, seconds } from '../results.ts'
import { type Scale, TARGETS } from '../scale.ts'
import { tally, waitForDeliveries } from '../tally.ts'

const TENANT = 'chaos-crash'

export function describeWorkerCrash(scale: Scale) {
  const s = scale.workerCrash
  describe('1. worker SIGKILLed mid-burst, then restarted', () => {
    const kit = useScenarioKit()

    it('delivers every event of the burst', { timeout: s.capMs + 180_000 }, async () => {
      const began = Date.now()
      kit.mark('hubs')
      const cluster = await createCluster(kit.db.url)
      kit.defer(() => cluster.killAll())
      const [api, worker] = await Promise.all([cluster.start('api'), cluster.start('worker')])
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())
      // Receivers that take a moment to answer, so that many attempts are in flight when the worker dies.
      const ledgers = await Promise.all(
        ['crash-a', 'crash-b'].map((name) => startLedger(name, { kind: 'ok', delayMs: 20 })),
      )
      for (const ledger of ledgers) {
        kit.defer(() => ledger.close())
        await createWebhook(gql, TENANT, { name: ledger.name, url: ledger.url, maxConcurrency: 50 })
      }

      kit.mark('burst')
      const log = newPublishLog()
      const publishing = publishPlan(gql, log, {
        tenant: TENANT,
        type: 'chaos.burst',
        count: s.events,
        prefix: 'crash',
        concurrency: 16,
      })
      await until(
        'the first part of the burst to be delivered',
        () => acceptedCount(ledgers) >= s.events * ledgers.length * s.killAt,
        120_000,
      )

      kit.mark('killed')
      const killedAt = Date.now()
      worker.process.child.kill('SIGKILL')
      await worker.process.exited
      const deliveredAtKill = acceptedCount(ledgers)
      const strandedJobs = (await deliveryJobStates(kit.db.url)).active ?? 0
      await sleep(Math.max(0, killedAt + s.restartAfterMs - Date.now()))
      await cluster.start('worker')
      kit.mark('restarted')
      await publishing
      kit.mark('published')

      const ids = log.accepted.map((event) => event.id)
      const expectations = ledgers.map((ledger) => ({ ledger, eventIds: ids }))
      const recovered = await waitForDeliveries(expectations, killedAt + s.capMs - Date.now())
      kit.mark('settle')
      await sleep(1_000) // late duplicates
      const t = tally(expectations)
      const recoveryMs = recovered ? t.lastDeliveredAt - killedAt : null

      await conclude(
        {
          order: 1,
          id: 'worker-crash',
          title: 'Worker SIGKILLed mid-burst, restarted',
          scale: scale.name,
          eventsSent: log.accepted.length,
          endpoints: ledgers.length,
          ...figures(t),
          recoveryMs: recoveryMs ?? 'unrecovered',
          healthyP99Ms: null,
          notes: [
            `killed after ${deliveredAtKill} of ${s.events * ledgers.length} deliveries, with ${strandedJobs} jobs active`,
            `new worker ${s.restartAfterMs / 1000} s after the kill`,
            recovered ? `recovered in ${seconds(recoveryMs)}` : `not recovered within ${seconds(s.capMs)} of the kill`,
          ],
          checks: [
            ...deliveryChecks(t),
            {
              name: `recovery < ${TARGETS.recoveryMs / 1000} s`,
              ok: recoveryMs !== null && recoveryMs < TARGETS.recoveryMs,
              actual: recoveryMs === null ? `more than ${seconds(s.capMs)}` : seconds(recoveryMs),
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
