// Delivery figures: which statuses end a delivery, and how deliveries count as succeeded or failed. One
// home, in TypeScript and in SQL, so that the worker, the log, the stats and the API agree.
import type { DeliveryStatus } from '#generated/prisma/enums.ts'

/** A delivery in one of these is finished: no attempt comes, unless it is retried or replayed on demand. */
export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'DEAD'] as const satisfies readonly DeliveryStatus[]

/** Finished without success: the retry policy ran out or could not help (FAILED), or the endpoint is gone (DEAD). */
export const FAILED_STATUSES = ['FAILED', 'DEAD'] as const satisfies readonly DeliveryStatus[]

const terminal: ReadonlySet<DeliveryStatus> = new Set(TERMINAL_STATUSES)

export const isTerminal = (status: DeliveryStatus): boolean => terminal.has(status)

/** Percent of finished deliveries that succeeded, to one decimal; null before any finished. */
export function successRate(succeeded: number, failed: number): number | null {
  return succeeded + failed === 0 ? null : Math.round((succeeded / (succeeded + failed)) * 1000) / 10
}

const sqlList = (statuses: readonly DeliveryStatus[]) => statuses.map((status) => `'${status}'`).join(', ')

/** SQL: the terminal statuses, for `status IN (…)`. */
export const TERMINAL_STATUSES_SQL = sqlList(TERMINAL_STATUSES)

/** SQL aggregate: how many of the grouped deliveries succeeded; `column` is their status column. */
export const succeededCountSql = (column = 'status') => `count(*) FILTER (WHERE ${column} = 'SUCCEEDED')::int`

/** SQL aggregate: how many of the grouped deliveries finished without success. */
export const failedCountSql = (column = 'status') =>
  `count(*) FILTER (WHERE ${column} IN (${sqlList(FAILED_STATUSES)}))::int`

/**
 * SQL aggregate: `successRate` of the grouped deliveries, unrounded (round what is computed from it);
 * null before any finished.
 */
export const successRateSql = (column = 'status') =>
  `100.0 * count(*) FILTER (WHERE ${column} = 'SUCCEEDED') / nullif(count(*) FILTER (WHERE ${column} IN (${TERMINAL_STATUSES_SQL})), 0)`
