// The worker's slots: every job fetched and not yet settled (completed, failed or handed back) holds
// one, from the fetch until what it did is on record; a job whose attempt runs also holds its tenant's.
import type { JobAttempt } from 'pg-boss'
import type { TenantShares } from '../tenant-shares.ts'

/** A job in hand, and the tenant slot it took (none for a job that makes no attempt). */
export interface Held {
  job: JobAttempt
  tenantId: string | null
}

export interface Slots {
  /** Jobs in hand. */
  readonly size: number
  get(jobId: string): Held | undefined
  /** Whether this claim is still in hand: not settled, nor let go at the shutdown deadline. */
  holds(entry: Held): boolean
  /** A fetched job, in hand until it is settled. */
  take(job: JobAttempt): void
  /** Settled jobs free their slots: the worker's, and their tenant's. */
  release(settled: readonly Held[]): void
  jobIds(): string[]
  entries(): Held[]
  /** Lets go of every job in hand, unsettled (at the shutdown deadline), and returns them. */
  drain(): Held[]
  /** Resolves once no job is in hand. */
  whenEmpty(): Promise<void>
}

/** `onReleased` runs after every release: freed slots may be worth a fetch. */
export function createSlots(shares: TenantShares, onReleased: () => void): Slots {
  const held = new Map<string, Held>()
  let idle: (() => void) | undefined
  return {
    get size() {
      return held.size
    },
    get: (jobId) => held.get(jobId),
    holds: (entry) => held.get(entry.job.id) === entry,
    take(job) {
      held.set(job.id, { job: { id: job.id, retryCount: job.retryCount }, tenantId: null })
    },
    release(settled) {
      for (const entry of settled) {
        // pg-boss reuses a job's id for its retries: only this claim's entry is ours to drop.
        if (held.get(entry.job.id) !== entry) continue
        held.delete(entry.job.id)
        if (entry.tenantId !== null) shares.release(entry.tenantId)
      }
      if (held.size === 0) idle?.()
      onReleased()
    },
    jobIds: () => [...held.keys()],
    entries: () => [...held.values()],
    drain() {
      const left = [...held.values()]
      held.clear()
      return left
    },
    whenEmpty() {
      if (held.size === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        idle = resolve
      })
    },
  }
}
