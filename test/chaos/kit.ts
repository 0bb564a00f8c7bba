// What every scenario's describe block needs: its own database, and cleanups that run however it ends.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll } from 'vitest'
import { type TestDatabase, useTestDatabase } from '../helpers/db.ts'

export interface ScenarioKit {
  /** A database of the scenario's own, cloned from the migrated template (read `.url` inside the test). */
  db: TestDatabase
  /** Runs `cleanup` after the scenario, last registered first (processes before the database). */
  defer(cleanup: () => unknown): void
  /** Notes how long the scenario took to reach this point (printed with its result). */
  mark(phase: string): void
  /** `phase 1.2 s, next 3.4 s`: the time from each mark to the next. */
  phases(): string
}

/** `database: false` for a scenario that brings its own PostgreSQL. */
export function useScenarioKit(options: { database?: boolean } = {}): ScenarioKit {
  const db = options.database === false ? { name: '', url: '' } : useTestDatabase()
  const cleanups: Array<() => unknown> = []
  // Registered after the database's hook, so it runs before it: nothing is connected when it is dropped.
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (error) {
        console.warn(`chaos cleanup failed: ${(error as Error).message}`)
      }
    }
  })
  const marks: Array<{ phase: string; at: number }> = []
  return {
    db,
    defer: (cleanup) => cleanups.push(cleanup),
    mark: (phase) => marks.push({ phase, at: Date.now() }),
    phases: () =>
      marks
        .map(({ phase, at }, i) => `${phase} ${(((marks[i + 1]?.at ?? Date.now()) - at) / 1000).toFixed(1)} s`)
        .join(', '),
  }
}

/** Polls `condition` until it holds; throws `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}
