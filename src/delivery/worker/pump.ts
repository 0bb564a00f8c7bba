// The fetch pump: fetches from pg-boss while slots are free, woken by NOTIFY when jobs are queued, when a
// retry this worker scheduled comes due, and by a poll. It also touches the jobs in hand every half
// heartbeat, so that a crashed worker's jobs are run again by another once their heartbeat goes stale.
import type { PgBoss } from 'pg-boss'
import { isDatabaseUnavailable } from '../../db/unavailable.ts'
import type { Logger } from '../../logger.ts'
import { CHANNELS, type EventNotice } from '../../realtime/channels.ts'
import type { Listener } from '../../realtime/listener.ts'
import type { EndpointRates } from '../endpoint-rate.ts'
import { type DeliveryJobData, TARGET_GROUP_CONCURRENCY } from '../jobs.ts'
import type { QueueName } from '../queue.ts'
import type { TenantShares } from '../tenant-shares.ts'
import type { Dispatch } from './dispatch.ts'
import type { Slots } from './slots.ts'

/** Wake-ups by NOTIFY fetch at most this often... */
const WAKE_INTERVAL_MS = 4
/** ...or this often, while the targets with work are at their concurrency limit. */
const SATURATED_WAKE_INTERVAL_MS = 50

/**
 * Jobs in hand are touched this often: half the shortest heartbeat pg-boss allows, so every job's claim
 * stays alive whichever process last set the queue's heartbeat.
 */
const TOUCH_INTERVAL_MS = 5000
const TOUCH_CHUNK = 1000

export interface FetchPump {
  /** Starts touching, polling and listening, and fetches at once. */
  start(): void
  /** Fetches while slots are free; a call during a fetch makes it look again after. */
  pump(): Promise<void>
  /** Slots were freed: fetches again when the last fetch left work waiting and enough slots are free. */
  refill(): void
  /** Fetches when a retry due in `ms` comes due (unless the poll comes first). */
  wakeIn(ms: number): void
  /** The fetch under way, if any. */
  fetching(): Promise<void> | undefined
  /** Stops polling, listening and the pending wake-ups: no new fetch starts. */
  quiet(): void
  /** Stops touching the jobs in hand. */
  stopTouching(): void
}

export interface FetchPumpDeps {
  boss: PgBoss
  queue: QueueName
  listener: Listener
  slots: Slots
  shares: TenantShares
  /** Webhooks whose rate limit is reached are skipped until it has room. */
  rates: EndpointRates
  dispatch: Dispatch
  log: Logger
  /** Jobs in hand at most (SWITCHYARD_DELIVERY_CONCURRENCY). */
  capacity: number
  /** Jobs per fetch at most (the queue's batch size). */
  fetchSize: number
  pollingIntervalSeconds: number
  isRunning(): boolean
  /** Whether a published event brought this queue work. */
  wakesFor(notice: EventNotice): boolean
}

export function createFetchPump(deps: FetchPumpDeps): FetchPump {
  const { boss, queue, listener, slots, shares, dispatch, log, capacity, fetchSize, pollingIntervalSeconds } = deps
  const running = deps.isRunning
  /** With work waiting, a fetch is worth its round trip once this many slots are free. */
  const refillAt = Math.max(1, Math.floor(Math.min(fetchSize, capacity) / 4))

  let pumping: Promise<void> | undefined
  let wakeAgain = false
  /** The last fetch came back full: more work is waiting, so freed slots fetch again. */
  let backlog = false
  let lastFetchEmpty = false
  let fetchFailing = false
  const timers = new Set<NodeJS.Timeout>()
  const stops: Array<() => void> = []
  let heartbeat: NodeJS.Timeout | undefined

  function pump(): Promise<void> {
    if (!running()) return Promise.resolve()
    if (pumping) {
      wakeAgain = true
      return pumping
    }
    pumping = fetchWhileFree().finally(() => {
      pumping = undefined
    })
    return pumping
  }

  async function fetchWhileFree(): Promise<void> {
    try {
      do {
        wakeAgain = false
        while (running() && slots.size < capacity) {
          await shares.refresh(slots.jobIds())
          const wanted = shares.fetchLimit(Math.min(fetchSize, capacity - slots.size))
          const ignoreGroups = [...shares.ignoredGroups(), ...deps.rates.fullGroups()]
          const jobs = await boss.fetch<DeliveryJobData>(queue, {
            batchSize: wanted,
            groupConcurrency: TARGET_GROUP_CONCURRENCY,
            ...(ignoreGroups.length > 0 ? { ignoreGroups } : {}),
          })
          backlog = jobs.length === wanted
          lastFetchEmpty = jobs.length === 0
          if (jobs.length > 0) {
            for (const job of jobs) slots.take(job)
            void dispatch(jobs)
          }
          if (!backlog) break
        }
      } while (wakeAgain && running())
      fetchFailing = false
    } catch (error) {
      // An outage fails every poll: said once, not every few hundred milliseconds.
      if (!fetchFailing || !isDatabaseUnavailable(error)) log.error({ err: error }, 'fetching delivery jobs failed')
      fetchFailing = true
    }
  }

  function wakeIn(ms: number): void {
    if (!running() || ms > pollingIntervalSeconds * 1000) return
    const timer = setTimeout(() => {
      timers.delete(timer)
      void pump()
    }, ms + 5)
    timers.add(timer)
  }

  // NOTIFYs come with every publish; a fetch each would cost more than the jobs it finds. Wake-ups are
  // coalesced into at most one fetch per WAKE_INTERVAL_MS. When the last fetch found nothing although
  // attempts are in flight (their targets' groups are full), completions will fetch again; a wake-up then
  // only waits longer, in case a new job belongs to another target.
  let wakeScheduled = false
  let lastWake = 0
  function wake(): void {
    if (wakeScheduled || !running()) return
    wakeScheduled = true
    const interval = lastFetchEmpty && slots.size > 0 ? SATURATED_WAKE_INTERVAL_MS : WAKE_INTERVAL_MS
    setTimeout(
      () => {
        wakeScheduled = false
        lastWake = performance.now()
        void pump()
      },
      Math.max(0, interval - (performance.now() - lastWake)),
    )
  }

  /** Keeps the claims on the jobs in hand alive; a worker that stops touching them has crashed. */
  async function touch(): Promise<void> {
    const jobs = slots.entries()
    for (let start = 0; start < jobs.length; start += TOUCH_CHUNK) {
      const chunk = jobs.slice(start, start + TOUCH_CHUNK)
      // pg-boss's types leave CommandResponse empty; its `settled` lists the claims it kept alive.
      const { settled } = (await boss.touch(
        queue,
        chunk.map((entry) => entry.job),
      )) as { settled?: string[] }
      if (!settled) continue
      const kept = new Set(settled)
      // Settled meanwhile (a flush) is no loss; still in hand and not kept is.
      const lost = chunk.filter((entry) => !kept.has(entry.job.id) && slots.holds(entry))
      if (lost.length > 0) {
        log.warn(
          { lost: lost.length },
          'jobs in hand were claimed away (their heartbeat went stale); pg-boss runs them again',
        )
      }
    }
  }

  return {
    start() {
      heartbeat = setInterval(
        () => void touch().catch((error: unknown) => log.warn({ err: error }, 'touching jobs in hand failed')),
        TOUCH_INTERVAL_MS,
      )
      const poll = setInterval(() => void pump(), pollingIntervalSeconds * 1000)
      stops.push(
        () => clearInterval(poll),
        listener.on(CHANNELS.jobs, wake),
        listener.on(CHANNELS.events, (notices) => {
          if ((notices as EventNotice[]).some(deps.wakesFor)) wake()
        }),
        // Notices sent while the listener was away are missed; look for the work they announced.
        listener.onReconnect(() => void pump()),
      )
      void pump()
    },
    pump,
    refill() {
      if (backlog && capacity - slots.size >= refillAt) void pump()
    },
    wakeIn,
    fetching: () => pumping,
    quiet() {
      for (const stop of stops.splice(0)) stop()
      for (const timer of timers) clearTimeout(timer)
    },
    stopTouching() {
      clearInterval(heartbeat)
    },
  }
}
