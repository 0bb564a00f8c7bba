// What the ledgers say about a set of published events: delivered, duplicated, lost, and how fast.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Ledger, LedgerEntry } from './ledger.ts'

/** An endpoint (a receiver's ledger, or a subscriber's) and the events that should reach it. */
export interface Expectation {
  ledger: Pick<Ledger, 'entries'>
  eventIds: readonly string[]
}

export interface Tally {
  /** Deliveries expected: events × the endpoints each should reach. */
  expected: number
  /** Expected deliveries the receiver accepted at least once. */
  delivered: number
  /** Accepted more than once: the extra acceptances. */
  duplicates: number
  lost: number
  /** Accepted requests for events nobody published (there should be none). */
  unexpected: number
  /** When the last expected delivery was first accepted (ms since the epoch); 0 when none was. */
  lastDeliveredAt: number
  /** Publish → first acceptance, in ms, of each delivered event. */
  latenciesMs: number[]
}

export function tally(expectations: readonly Expectation[]): Tally {
  const total: Tally = {
    expected: 0,
    delivered: 0,
    duplicates: 0,
    lost: 0,
    unexpected: 0,
    lastDeliveredAt: 0,
    latenciesMs: [],
  }
  for (const { ledger, eventIds } of expectations) {
    const wanted = new Set(eventIds)
    const accepted = new Map<string, LedgerEntry[]>()
    for (const entry of ledger.entries) {
      if (!entry.accepted) continue
      if (!wanted.has(entry.eventId)) {
        total.unexpected += 1
        continue
      }
      const list = accepted.get(entry.eventId)
      if (list) list.push(entry)
      else accepted.set(entry.eventId, [entry])
    }
    total.expected += wanted.size
    total.delivered += accepted.size
    total.lost += wanted.size - accepted.size
    for (const list of accepted.values()) {
      total.duplicates += list.length - 1
      const first = list.reduce((a, b) => (b.receivedAt < a.receivedAt ? b : a))
      total.lastDeliveredAt = Math.max(total.lastDeliveredAt, first.receivedAt)
      if (first.sentAt !== undefined) total.latenciesMs.push(first.receivedAt - first.sentAt)
    }
  }
  return total
}

export const allDelivered = (expectations: readonly Expectation[]) => tally(expectations).lost === 0

/** Waits until every expected delivery arrived, or `capMs` passed; says which. */
export async function waitForDeliveries(expectations: readonly Expectation[], capMs: number): Promise<boolean> {
  const deadline = Date.now() + capMs
  while (!allDelivered(expectations)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

/** The value below which `p` percent of the values fall (nearest rank); null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] ?? null
}
