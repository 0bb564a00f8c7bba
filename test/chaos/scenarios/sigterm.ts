// 5. SIGTERM to the worker under load, while some deliveries are held by a receiver slower than the
// worker's shutdown timeout: it exits within the timeout, leaves no pg-boss job active, and after a
// restart every event arrives.
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

const TENANT = 'chaos-sigterm'
/** The straggler answers this late, longer than the shutdown timeout. */
const STRAGGLER_DELAY_MS = 25_000

export function describeSigterm(scale: Scale) {
  const s = scale.sigterm
  describe('5. worker SIGTERMed under load, then restarted', () => {
    const kit = useScenarioKit()

    it('exits within its timeout, leaves no job active, and delivers everything after a restart', {
      timeout: s.capMs + 180_000,
    }, async () => {
      const began = Date.now()
      kit.mark('hubs')
      const cluster = await createCluster(kit.db.url, {
        SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS: String(s.shutdownTimeoutSeconds),
      })
      kit.defer(() => cluster.killAll())
      const [api, worker] = await Promise.all([cluster.start('api'), cluster.start('worker')])
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())
      const ledgers = await Promise.all(
        ['sigterm-a', 'sigterm-b'].map((name) => startLedger(name, { kind: 'ok', delayMs: 100 })),
      )
      for (const ledger of ledgers) {
        kit.defer(() => ledger.close())
        await createWebhook(gql, TENANT, {
          name: ledger.name,
          url: ledger.url,
          events: ['chaos.load'],
          maxConcurrency: 50,
        })
      }
      const straggler = await startLedger('straggler', { kind: 'ok', delayMs: STRAGGLER_DELAY_MS })
      kit.defer(() => straggler.close())
      await createWebhook(gql, TENANT, {
        name: 'straggler',
        url: straggler.url,
        events: ['chaos.straggler'],
        timeoutMs: STRAGGLER_DELAY_MS + 5_000,
      })

      kit.mark('load')
      const stragglerLog = newPublishLog()
      await publishPlan(gql, stragglerLog, {
        tenant: TENANT,
        type: 'chaos.straggler',
        count: s.stragglers,
        prefix: 'straggler',
        concurrency: 1,
      })
      const log = newPublishLog()
      const publishing = publishPlan(gql, log, {
        tenant: TENANT,
        type: 'chaos.load',
        count: s.events,
        prefix: 'load',
        concurrency: 16,
      })
      await until(
        'the stragglers to be in flight and a third of the load delivered',
        () => straggler.entries.length >= s.stragglers && acceptedCount(ledgers) >= (s.events * ledgers.length) / 3,
        120_000,
      )

      kit.mark('SIGTERM')
      const signalledAt = Date.now()
      worker.process.child.kill('SIGTERM')
      const exitCode = await worker.process.exited
      const exitMs = Date.now() - signalledAt
      const states = await deliveryJobStates(kit.db.url)
      const active = states.active ?? 0
      straggler.behave({ kind: 'ok' })
      kit.mark('restart')
      await cluster.start('worker')
      await publishing
      kit.mark('drain')
      const expectations = [
        ...ledgers.map((ledger) => ({ ledger, eventIds: log.accepted.map((event) => event.id) })),
        { ledger: straggler, eventIds: stragglerLog.accepted.map((event) => event.id) },
      ]
      const recovered = await waitForDeliveries(expectations, signalledAt + s.capMs - Date.now())
      kit.mark('settle')
      await sleep(1_000)
      const t = tally(expectations)
      const recoveryMs = recovered ? t.lastDeliveredAt - signalledAt : null
      const exitLimitMs = s.shutdownTimeoutSeconds * 1000 + TARGETS.exitMarginMs

      await conclude(
        {
          order: 5,
          id: 'sigterm',
          title: 'Worker SIGTERMed under load, restarted',
          scale: scale.name,
          eventsSent: log.accepted.length + stragglerLog.accepted.length,
          endpoints: 2,
          ...figures(t),
          recoveryMs: recoveryMs ?? 'unrecovered',
          healthyP99Ms: null,
          notes: [
            `${s.events} events to 2 webhooks, and ${s.stragglers} to one answering after ${seconds(STRAGGLER_DELAY_MS)}; SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS=${s.shutdownTimeoutSeconds}`,
            `the worker exited ${seconds(exitMs)} after SIGTERM with code ${exitCode}`,
            `pg-boss jobs then: ${JSON.stringify(states)}`,
            recovered
              ? `all delivered ${seconds(recoveryMs)} after SIGTERM`
              : `not recovered within ${seconds(s.capMs)} of SIGTERM`,
          ],
          checks: [
            ...deliveryChecks(t),
            {
              name: `exits within SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS (+${TARGETS.exitMarginMs / 1000} s)`,
              ok: exitMs <= exitLimitMs,
              actual: `${seconds(exitMs)} (limit ${seconds(exitLimitMs)})`,
            },
            { name: 'exit code 0', ok: exitCode === 0, actual: `code ${exitCode}` },
            { name: 'no job left active', ok: active === 0, actual: `${active} active` },
          ],
          durationMs: Date.now() - began,
        },
        scale,
        kit.phases(),
      )
    })
  })
}
