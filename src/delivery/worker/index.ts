// The delivery worker: the same parts for each delivery queue (ordered deliveries have one of their own).
// It keeps up to `concurrency` jobs in hand, fetching from pg-boss as slots free up.
// A slot is held from the fetch until the attempt is on record, so a stalled flush stops new attempts
// instead of piling up records. pg-boss caps each target's attempts across processes, and TenantShares
// each tenant's, so neither one slow receiver nor one tenant's many can take every slot.
// Finished attempts are recorded in batches: one transaction per tick, not per attempt. A batch that
// cannot be written is split until the record at fault is found, and that one is written without the
// details that broke it. Jobs in hand are touched every half heartbeat; a crashed worker's jobs are run
// again by another once their heartbeat goes stale.
// It wakes on NOTIFY when jobs are queued, when a retry it scheduled comes due, and on a poll.
//
// The parts: slots.ts (the jobs in hand), pump.ts (fetches, wake-ups, touches), load.ts (the one query),
// dispatch.ts (sorting a fetched batch), target.ts (one attempt), writer.ts (the batched records) and
// shutdown.ts.
import type { PgBoss } from 'pg-boss'
import type { Config } from '../../config.ts'
import { pool } from '../../db/client.ts'
import type { Logger } from '../../logger.ts'
import type { EventNotice } from '../../realtime/channels.ts'
import type { Listener } from '../../realtime/listener.ts'
import type { Sealer } from '../../sealing/sealer.ts'
import type { EndpointRates } from '../endpoint-rate.ts'
import type { HttpSender } from '../http.ts'
import type { DeliveryJobs } from '../jobs.ts'
import { QUEUE_NAMES, type QueueName } from '../queue.ts'
import type { DisabledWebhook } from '../record.ts'
import { createTenantShares } from '../tenant-shares.ts'
import type { Transformer } from '../transform.ts'
import { createDispatch } from './dispatch.ts'
import { createFetchPump } from './pump.ts'
import { shutDown } from './shutdown.ts'
import { createSlots } from './slots.ts'
import type { CallConnector } from './target.ts'
import { createBatchWriter } from './writer.ts'

export interface DeliveryWorkerDeps {
  config: Config
  boss: PgBoss
  jobs: DeliveryJobs
  listener: Listener
  logger: Logger
  /** Opens webhook secrets and headers; a caching one saves a decryption per attempt. */
  sealer: Sealer
  sender: HttpSender
  /** Evaluates webhooks' transforms off the event loop. */
  transformer: Transformer
  /** Webhooks' rateLimitPerSecond: the process's one count, which its test deliveries share. */
  rates: EndpointRates
  callConnector: CallConnector
  /**
   * Called once the commit that disabled a webhook is done (410 Gone, or too many failed deliveries in a
   * row). A failure is logged; the record stands.
   */
  onDisabled(disabled: DisabledWebhook): Promise<void>
}

export interface DeliveryWorker {
  /** Stops fetching, and waits (up to the shutdown timeout) for the attempts in flight. */
  stop(): Promise<void>
}

export function startDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const { config } = deps
  const log = deps.logger.child({ component: 'delivery-worker' })
  const { rates } = deps
  const pipelines = [
    startPipeline(deps, log, rates, QUEUE_NAMES.delivery, (notice) => notice.deliveries > (notice.ordered ?? 0)),
    // Ordered deliveries have a queue of their own (src/delivery/ordering.ts), woken only by their own.
    startPipeline(deps, log, rates, QUEUE_NAMES.orderedDelivery, (notice) => (notice.ordered ?? 0) > 0),
  ]
  log.info(
    {
      capacity: config.delivery.concurrency,
      batchSize: config.queue.batchSize,
      tenantConcurrency: config.delivery.tenantConcurrency,
    },
    'delivery worker started',
  )
  return {
    async stop() {
      await Promise.all(pipelines.map((pipeline) => pipeline.stop()))
      log.info('delivery worker stopped')
    },
  }
}

/** The worker's parts for one delivery queue. */
function startPipeline(
  deps: DeliveryWorkerDeps,
  log: Logger,
  rates: EndpointRates,
  queue: QueueName,
  wakesFor: (notice: EventNotice) => boolean,
): DeliveryWorker {
  const { config, boss, listener, sealer, sender, transformer } = deps
  const queueSchema = config.queue.schema
  const capacity = config.delivery.concurrency
  const fetchSize = config.queue.batchSize
  let running = true
  const isRunning = () => running
  const shares = createTenantShares(pool(), {
    cap: config.delivery.tenantConcurrency,
    queueSchema,
    queue,
    onError: (error) => log.warn({ err: error }, 'counting the tenants’ attempts in flight failed'),
  })

  const slots = createSlots(shares, () => fetchPump.refill())
  const writer = createBatchWriter({
    boss,
    queue,
    recording: {
      jobs: deps.jobs,
      maxConsecutiveFailures: config.delivery.maxConsecutiveFailures,
      ordered: queue === QUEUE_NAMES.orderedDelivery,
    },
    slots,
    log,
    isRunning,
    onDisabled: deps.onDisabled,
    onRetryScheduled: (ms) => fetchPump.wakeIn(ms),
    onFlushed: () => void fetchPump.pump(),
  })
  const dispatch = createDispatch({
    boss,
    pool: pool(),
    queue,
    queueSchema,
    slots,
    shares,
    writer,
    callers: {
      webhooks: { sealer, sender, defaultHeaders: config.defaultHeaders, transformer },
      callConnector: deps.callConnector,
    },
    rates,
    log,
    isRunning,
    onRateLimited: (ms) => fetchPump.wakeIn(ms),
  })
  const fetchPump = createFetchPump({
    boss,
    queue,
    listener,
    slots,
    shares,
    rates,
    dispatch,
    log,
    capacity,
    fetchSize,
    pollingIntervalSeconds: config.queue.pollingIntervalSeconds,
    isRunning,
    wakesFor,
  })
  fetchPump.start()

  return {
    async stop() {
      running = false
      await shutDown({
        boss,
        pool: pool(),
        queue,
        queueSchema,
        slots,
        pump: fetchPump,
        writer,
        log,
        shutdownTimeoutSeconds: config.shutdownTimeoutSeconds,
      })
    },
  }
}
