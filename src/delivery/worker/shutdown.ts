// Shutdown: attempts in flight finish and are recorded, within most of the shutdown timeout; the rest of
// it is the queue's and the database's to close. What is still in hand at the deadline is let go.
import type pg from 'pg'
import type { PgBoss } from 'pg-boss'
import type { Logger } from '../../logger.ts'
import { type QueueName, returnJobs } from '../queue.ts'
import type { FetchPump } from './pump.ts'
import type { Slots } from './slots.ts'
import type { BatchWriter } from './writer.ts'

export interface ShutdownDeps {
  boss: PgBoss
  pool: pg.Pool
  queue: QueueName
  queueSchema: string
  slots: Slots
  pump: FetchPump
  writer: BatchWriter
  log: Logger
  shutdownTimeoutSeconds: number
}

/** Stops a worker that no longer counts itself running: no fetch starts, and what is in hand settles. */
export async function shutDown({
  boss,
  pool,
  queue,
  queueSchema,
  slots,
  pump,
  writer,
  log,
  shutdownTimeoutSeconds,
}: ShutdownDeps): Promise<void> {
  pump.quiet()
  const deadline = performance.now() + Math.max(1000, shutdownTimeoutSeconds * 1000 - 2000)
  const untilDeadline = () =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())).unref())
  await Promise.race([pump.fetching(), untilDeadline()])
  if (slots.size > 0) {
    log.info({ inFlight: slots.size }, 'waiting for attempts in flight')
    await Promise.race([slots.whenEmpty(), untilDeadline()])
  }
  while (writer.flushing() && performance.now() < deadline) await Promise.race([writer.flushing(), untilDeadline()])
  pump.stopTouching()
  if (slots.size > 0) {
    // At the deadline: jobs never attempted go back as they were; attempts still running (or not yet
    // recorded) are failed, for pg-boss to run again: the receiver may see them twice, never zero
    // times. Their late outcomes are no longer recorded.
    const left = slots.drain()
    const attempted = left.filter((entry) => entry.tenantId !== null)
    log.warn({ jobs: left.length }, 'releasing attempts still in flight at the shutdown deadline')
    await returnJobs(
      pool,
      queueSchema,
      queue,
      left.filter((entry) => entry.tenantId === null).map((entry) => entry.job),
    ).catch((error: unknown) => log.error({ err: error }, 'could not hand jobs back to the queue'))
    if (attempted.length > 0) {
      await boss
        .fail(
          queue,
          attempted.map((entry) => entry.job),
          { message: 'the worker stopped before the attempt was recorded' },
        )
        .catch((error: unknown) => log.error({ err: error }, 'could not release the jobs in flight'))
    }
  }
}
