// A scenario's result: the figures for docs/reliability.md and the checks it is judged by. The result is
// written (for the report) before the checks are asserted, so a failing scenario is reported too.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, inject } from 'vitest'
import type { Scale } from './scale.ts'
import { percentile, type Tally } from './tally.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by the chaos suite's global setup only: where scenarios leave their results. */
    chaosResultsDir: string | undefined
  }
}

export interface Check {
  name: string
  ok: boolean
  /** What was measured, in words: `lost 12`, `134.2 s`. */
  actual: string
  /** A timing or memory target: asserted at full scale only, reported at every scale. */
  fullScaleOnly?: boolean
}

export interface ScenarioResult {
  order: number
  id: string
  title: string
  scale: Scale['name']
  eventsSent: number
  /** Endpoints (or subscribers) each event should reach. */
  endpoints: number
  expected: number
  delivered: number
  duplicates: number
  lost: number
  /** From the fault to the last delivery; `unrecovered`: events still missing when the wait ended; null
   * where it does not apply. */
  recoveryMs: number | 'unrecovered' | null
  healthyP99Ms: number | null
  /** Further figures, one phrase each. */
  notes: string[]
  checks: Check[]
  durationMs: number
}

/** The delivery figures of a tally, for a result. */
export const figures = (t: Tally) => ({
  expected: t.expected,
  delivered: t.delivered,
  duplicates: t.duplicates,
  lost: t.lost,
})

export const p99 = (t: Tally) => percentile(t.latenciesMs, 99)

export const seconds = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`)
export const millis = (ms: number | null) => (ms === null ? 'n/a' : `${Math.round(ms)} ms`)

/** `<who>: publish → received p50 …, p99 …, max …`. */
export const latencyNote = (who: string, t: Tally) =>
  `${who}: publish → received p50 ${millis(percentile(t.latenciesMs, 50))}, p99 ${millis(p99(t))}, ` +
  `max ${millis(percentile(t.latenciesMs, 100))}`

/** The checks every scenario makes on delivery: nothing lost, nothing delivered that was not sent. */
export function deliveryChecks(t: Tally): Check[] {
  return [
    { name: 'every event delivered (lost = 0)', ok: t.lost === 0, actual: `lost ${t.lost} of ${t.expected}` },
    { name: 'nothing delivered that was not published', ok: t.unexpected === 0, actual: `${t.unexpected} unexpected` },
  ]
}

/** Leaves the result for the report (chaos suite only), then asserts its checks, all of them. */
export async function conclude(result: ScenarioResult, scale: Scale, phases = ''): Promise<void> {
  const dir = inject('chaosResultsDir')
  if (dir) {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${result.order}-${result.id}.json`), JSON.stringify(result, null, 2))
  }
  console.info(
    `[chaos ${result.scale}] ${result.order}. ${result.title}: sent ${result.eventsSent} × ${result.endpoints}, ` +
      `delivered ${result.delivered}/${result.expected}, duplicates ${result.duplicates}, lost ${result.lost}, ` +
      `recovery ${result.recoveryMs === 'unrecovered' ? 'none' : seconds(result.recoveryMs)}, healthy p99 ${millis(result.healthyP99Ms)}; ` +
      `${result.notes.join('; ')}\n` +
      (phases ? `  phases: ${phases}\n` : '') +
      result.checks.map((check) => `  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.actual}`).join('\n'),
  )
  for (const check of result.checks) {
    if (check.fullScaleOnly && !scale.assertTimings) continue
    expect.soft(check.ok, `${check.name}: ${check.actual}`).toBe(true)
  }
}
