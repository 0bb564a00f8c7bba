// Load shapes: closed loop (N callers, each starting its next call when the last ends) and open loop
// (calls started at a fixed rate, whether or not the earlier ones have ended).
import { setTimeout as sleep } from 'node:timers/promises'

export interface ClosedLoopResult {
  calls: number
  errors: number
  /** The first error seen, to tell the reader what went wrong. */
  firstError: string | null
}

/** Runs `task` from `concurrency` callers until `until()` says stop; `hold()` pauses callers meanwhile. */
export async function closedLoop(options: {
  concurrency: number
  until: () => boolean
  task: () => Promise<unknown>
  hold?: () => boolean
}): Promise<ClosedLoopResult> {
  const result: ClosedLoopResult = { calls: 0, errors: 0, firstError: null }
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (!options.until()) {
        if (options.hold?.()) {
          await sleep(2)
          continue
        }
        try {
          await options.task()
          result.calls += 1
        } catch (error) {
          result.errors += 1
          result.firstError ??= (error as Error).message
        }
      }
    }),
  )
  return result
}

/** Starts `task` `rate` times a second for `durationMs`, then waits for the calls still running. */
export async function openLoop(options: {
  rate: number
  durationMs: number
  task: () => Promise<unknown>
}): Promise<ClosedLoopResult & { maxInFlight: number }> {
  const result = { calls: 0, errors: 0, firstError: null as string | null, maxInFlight: 0 }
  const running = new Set<Promise<unknown>>()
  const started = performance.now()
  let sent = 0
  while (performance.now() - started < options.durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * options.rate)
    while (sent < due) {
      sent += 1
      const call = options
        .task()
        .then(
          () => {
            result.calls += 1
          },
          (error: unknown) => {
            result.errors += 1
            result.firstError ??= (error as Error).message
          },
        )
        .finally(() => running.delete(call))
      running.add(call)
      result.maxInFlight = Math.max(result.maxInFlight, running.size)
    }
    await sleep(1)
  }
  await Promise.all(running)
  return result
}
