// Transforms: a webhook's JSONata expression reshapes the envelope into the body sent. An expression is
// checked when the webhook is saved, and evaluated on a pool of threads (workerpool), so that no tenant's
// expression holds a process's event loop: jsonata's guardrails stop a long evaluation between steps, and a
// thread still busy THREAD_TIME_LIMIT_MS after it took the task (inside one native step: a backtracking
// regex, a huge $pad) is terminated and replaced. (vm's timeout, which payload schemas use, would hold the
// loop for all of its limit, and cannot stop some native steps at all: `$pad("", 5e8)` runs on for seconds.)
import { fileURLToPath } from 'node:url'
import workerpool from 'workerpool'
import { badInput } from '../errors.ts'
import type { Envelope } from './envelope.ts'
import { compileTransform, describeTransformError, MAX_TRANSFORM_LENGTH } from './transform-expression.ts'
import type { ThreadAnswer } from './transform-thread.ts'

export const THREAD_TIME_LIMIT_MS = 1000

/** Why an expression gave no body: logged on the attempt as TRANSFORM_ERROR, and never retried. */
export class TransformError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TransformError'
  }
}

/** A transform as saved: a JSONata expression that compiles, or BAD_USER_INPUT saying where it does not. */
export function checkTransform(expression: string): string {
  if (expression.trim() === '')
    throw badInput('transform is empty; set it to null to remove it', { field: 'transform' })
  if (expression.length > MAX_TRANSFORM_LENGTH) {
    throw badInput(`transform may be at most ${MAX_TRANSFORM_LENGTH} characters`, { field: 'transform' })
  }
  try {
    compileTransform(expression)
  } catch (error) {
    const why = error instanceof RangeError ? 'it nests too deeply' : describeTransformError(error)
    throw badInput(`transform is not a valid JSONata expression: ${why}`, { field: 'transform' })
  }
  return expression
}

export interface Transformer {
  /** The body `expression` makes of `envelope`, as JSON text; a TransformError when it makes none. */
  apply(expression: string, envelope: Envelope): Promise<string>
  /** Terminates the threads. */
  close(): Promise<void>
}

const THREAD_SCRIPT = fileURLToPath(new URL('./transform-thread.ts', import.meta.url))

export function createTransformer(): Transformer {
  // Started by the first transform: a hub whose webhooks have none runs no thread.
  let pool: ReturnType<typeof workerpool.pool> | undefined
  return {
    async apply(expression, envelope) {
      pool ??= workerpool.pool(THREAD_SCRIPT, { workerType: 'thread', workerTerminateTimeout: 100 })
      let overran = false
      let timer: NodeJS.Timeout | undefined
      const task = pool.exec('transform', [expression, envelope], {
        // The thread says when it takes the task: the limit counts neither the queue nor the thread's start.
        on: () => {
          timer = setTimeout(() => {
            overran = true
            task.cancel()
          }, THREAD_TIME_LIMIT_MS)
        },
      })
      let answer: ThreadAnswer
      try {
        answer = await task
      } catch (error) {
        if (overran)
          throw new TransformError(`the transform ran longer than ${THREAD_TIME_LIMIT_MS} ms and was stopped`)
        throw error
      } finally {
        clearTimeout(timer)
      }
      if ('error' in answer) throw new TransformError(answer.error)
      return answer.body
    },
    async close() {
      await pool?.terminate(true)
      pool = undefined
    },
  }
}
