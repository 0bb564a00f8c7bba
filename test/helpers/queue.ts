// A pg-boss client of the test's own on a hub's database: what a test needs to look at or stir the queue
// (send a stray job, read schedules) without reaching into the hub.
import { PgBoss } from 'pg-boss'
import { afterAll } from 'vitest'
import { createDeliveryJobs, type DeliveryJobs } from '../../src/delivery/jobs.ts'

export interface TestQueue {
  boss: PgBoss
  jobs: DeliveryJobs
  /** The queue's PostgreSQL schema (the hub's default). */
  schema: string
}

const SCHEMA = 'pgboss'

/** Starts on first use (read `databaseUrl` lazily: the test database exists only once the hub started). */
export function useTestQueue(databaseUrl: () => string): () => Promise<TestQueue> {
  let started: Promise<TestQueue> | undefined
  afterAll(async () => {
    const queue = await started
    await queue?.boss.stop({ graceful: false, close: true })
  })
  return () => {
    started ??= (async () => {
      // A client only: no maintenance or schedules of its own, and the hub's queues as they are.
      const boss = new PgBoss({
        connectionString: databaseUrl(),
        schema: SCHEMA,
        supervise: false,
        schedule: false,
        migrate: false,
      })
      boss.on('error', () => {})
      await boss.start()
      return { boss, jobs: createDeliveryJobs(boss, { notify: true }), schema: SCHEMA }
    })()
    return started
  }
}
