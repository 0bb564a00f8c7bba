// 2. PostgreSQL is stopped and started again while events are being published. Refused publishes are
// retried until accepted, as a client would; every accepted event arrives. The scenario runs on a
// PostgreSQL of its own, so that stopping it disturbs nothing else.
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'vitest'
import { createLogger } from '../../../src/logger.ts'
import { createCluster, createWebhook, graphqlClient, newPublishLog, publishPlan } from '../cluster.ts'
import { useScenarioKit } from '../kit.ts'
import { startLedger } from '../ledger.ts'
import { startRestartablePostgres } from '../postgres.ts'
import { conclude, deliveryChecks, figures, seconds } from '../results.ts'
import type { Scale } from '../scale.ts'
import { tally, waitForDeliveries } from '../tally.ts'

const TENANT = 'chaos-restart'

export function describePostgresRestart(scale: Scale) {
  const s = scale.pgRestart
  describe('2. PostgreSQL stopped and started again under publishing', () => {
    const kit = useScenarioKit({ database: false })

    it('delivers every accepted event', { timeout: s.outageAtMs + s.outageMs + s.capMs + 240_000 }, async () => {
      const began = Date.now()
      kit.mark('postgres')
      const postgres = await startRestartablePostgres(createLogger(process.env.TEST_LOG_LEVEL ?? 'warn'))
      kit.defer(() => postgres.close())
      const databaseUrl = await postgres.ensureDatabase('switchyard_chaos')
      kit.mark('hubs')
      const cluster = await createCluster(databaseUrl)
      kit.defer(() => cluster.killAll())
      // The first process migrates the new database; the second finds it done.
      const api = await cluster.start('api')
      const worker = await cluster.start('worker')
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())
      const ledgers = await Promise.all(
        ['restart-a', 'restart-b'].map((name) => startLedger(name, { kind: 'ok', delayMs: 20 })),
      )
      for (const ledger of ledgers) {
        kit.defer(() => ledger.close())
        await createWebhook(gql, TENANT, { name: ledger.name, url: ledger.url, maxConcurrency: 20 })
      }

      kit.mark('publishing')
      const log = newPublishLog()
      const publishingFrom = Date.now()
      const publishing = publishPlan(gql, log, {
        tenant: TENANT,
        type: 'chaos.restart',
        count: s.events,
        rate: s.rate,
        prefix: 'restart',
        concurrency: 8,
        // Past this, the hub is not coming back: give up rather than hang.
        deadline: publishingFrom + (s.events / s.rate) * 1000 + s.outageMs + 60_000,
      })
      await sleep(Math.max(0, publishingFrom + s.outageAtMs - Date.now()))
      kit.mark('outage')
      const stoppingAt = Date.now()
      await postgres.stop()
      const stoppedAt = Date.now()
      await sleep(s.outageMs)
      await postgres.start()
      const upAt = Date.now()
      kit.mark('publishing after')
      await publishing
      kit.mark('drain')

      const ids = log.accepted.map((event) => event.id)
      const expectations = ledgers.map((ledger) => ({ ledger, eventIds: ids }))
      await waitForDeliveries(expectations, s.capMs)
      kit.mark('settle')
      await sleep(1_000)
      const t = tally(expectations)

      // Recovered: publishes are accepted again, and everything accepted before the restart has arrived.
      const firstAcceptedAfter = Math.min(...log.accepted.filter((e) => e.acceptedAt >= upAt).map((e) => e.acceptedAt))
      const before = log.accepted.filter((e) => e.acceptedAt < upAt).map((e) => e.id)
      const backlog = tally(ledgers.map((ledger) => ({ ledger, eventIds: before })))
      const recoveryMs =
        backlog.lost === 0 && Number.isFinite(firstAcceptedAfter)
          ? Math.max(firstAcceptedAfter, backlog.lastDeliveredAt) - upAt
          : null
      const refused = Object.values(log.refusals).reduce((sum, n) => sum + n, 0)
      const otherRefusals = Object.entries(log.refusals).filter(([reason]) => reason !== 'UNAVAILABLE')
      const ready = await fetch(`${(api.url ?? '').replace(/\/graphql$/, '')}/readyz`).then(
        (response) => response.status,
        () => 0,
      )
      const survivors = [api, worker].filter((hub) => hub.alive()).map((hub) => hub.role)

      await conclude(
        {
          order: 2,
          id: 'postgres-restart',
          title: 'PostgreSQL stopped and started under publishing',
          scale: scale.name,
          eventsSent: log.accepted.length,
          endpoints: ledgers.length,
          ...figures(t),
          recoveryMs: recoveryMs ?? 'unrecovered',
          healthyP99Ms: null,
          notes: [
            `${s.rate} events/s; PostgreSQL stopped after ${seconds(stoppingAt - publishingFrom)} (took ${seconds(stoppedAt - stoppingAt)}), down ${seconds(upAt - stoppedAt)}`,
            `${refused} publishes refused and retried (${JSON.stringify(log.refusals)}), ${log.abandoned.length} never accepted`,
            ...otherRefusals.map(([reason]) => `first ${reason}: ${log.firstRefusal[reason]}`),
            recoveryMs === null
              ? `not recovered within ${seconds(s.capMs)} of the last publish`
              : `recovered ${seconds(recoveryMs)} after PostgreSQL was back`,
          ],
          checks: [
            ...deliveryChecks(t),
            {
              name: 'every event was accepted in the end',
              ok: log.abandoned.length === 0,
              actual: `${log.abandoned.length} never accepted`,
            },
            {
              name: 'refused publishes carried UNAVAILABLE',
              ok: otherRefusals.length === 0,
              actual: JSON.stringify(log.refusals),
            },
            {
              name: 'the hub processes survived',
              ok: survivors.length === 2,
              actual: `running: ${survivors.join(', ') || 'none'}`,
            },
            { name: '/readyz answers 200 again', ok: ready === 200, actual: `HTTP ${ready}` },
          ],
          durationMs: Date.now() - began,
        },
        scale,
        kit.phases(),
      )
    })
  })
}
