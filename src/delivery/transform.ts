// Transforms: a webhook's JSONata expression reshapes the envelope into the body sent. An expression is
// checked when the webhook is saved, and evaluated on a pool of child processes (workerpool), so that no
// tenant's expression holds the hub's event loop or its memory: jsonata's guardrails stop a long evaluation
// between steps, and a step's string is capped (transform-process.ts); a process still busy TIME_LIMIT_MS
// after it took the task (inside one native step: a backtracking regex) is terminated and replaced; and a
// process whose JS heap passes MEMORY_LIMIT_MB dies alone. (A worker thread's resourceLimits are no such bound: a single large allocation
// past them aborts the whole process, nodejs/node#47224. vm's timeout, which payload schemas use, would hold
// the loop for all of its limit, and cannot stop some native steps at all.)
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { LRUCache } from 'lru-cache'
import pLimit, { type LimitFunction } from 'p-limit'
import workerpool from 'workerpool'
import { badInput } from '../errors.ts'
import type { Envelope } from './envelope.ts'
import { compileTransform, describeTransformError, MAX_TRANSFORM_LENGTH } from './transform-expression.ts'
import type { ProcessAnswer } from './transform-process.ts'

export const TIME_LIMIT_MS = 1000

/** The JS heap of one transform process, in MB: past it, V8 ends that process (and only it). */
export const MEMORY_LIMIT_MB = 128

/** Processes in the pool: the cores this process may use (its container's, not the host's), less one, 1 to 4. */
export const POOL_SIZE = Math.min(4, Math.max(1, availableParallelism() - 1))

/**
 * Processes one tenant's transforms may hold at once: half the pool, at least one. The pool's queue is first
 * come, first served, so another tenant's transform waits behind at most this many of one tenant's.
 */
export const TENANT_PROCESSES = Math.max(1, Math.floor(POOL_SIZE / 2))

/** How long a transform may wait for a process before it is a TransformBusyError. */
export const QUEUE_DEADLINE_MS = 5000

/**
 * A transform that found no process in time: the pool was busy, which is no fault of the expression. The
 * attempt is logged as TIMEOUT and retried by the webhook's retry policy.
 */
export class TransformBusyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TransformBusyError'
  }
}

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
  /**
   * The body `expression` makes of `envelope`, as JSON text, for `tenantId`'s webhook; a TransformError when
   * it makes none, a TransformBusyError when it found no process in time.
   */
  apply(expression: string, envelope: Envelope, tenantId: string): Promise<string>
  /** Terminates the processes. */
  close(): Promise<void>
}

const PROCESS_SCRIPT = fileURLToPath(new URL('./transform-process.ts', import.meta.url))

export interface TransformerOptions {
  /** The JS heap of each process, in MB; MEMORY_LIMIT_MB unless a test wants a smaller one. */
  memoryLimitMb?: number
  /** QUEUE_DEADLINE_MS unless a test wants a shorter one. */
  queueDeadlineMs?: number
  /** TIME_LIMIT_MS unless a test wants a longer one. */
  timeLimitMs?: number
}

export function createTransformer({
  memoryLimitMb = MEMORY_LIMIT_MB,
  queueDeadlineMs = QUEUE_DEADLINE_MS,
  timeLimitMs = TIME_LIMIT_MS,
}: TransformerOptions = {}): Transformer {
  // One limiter a tenant, for its share of the pool (the least recently used of 10,000 tenants is forgotten).
  const shares = new LRUCache<string, LimitFunction>({ max: 10_000, memoMethod: () => pLimit(TENANT_PROCESSES) })
  // Started by the first transform: a hub whose webhooks have none runs no process.
  let pool: ReturnType<typeof workerpool.pool> | undefined
  let closing = false
  const startPool = () =>
    workerpool.pool(PROCESS_SCRIPT, {
      workerType: 'process',
      maxWorkers: POOL_SIZE,
      workerTerminateTimeout: 100,
      forkOpts: {
        execArgv: [`--max-old-space-size=${memoryLimitMb}`, '--max-semi-space-size=8'],
        // A process group of its own: a terminal's Ctrl-C stops the hub, which closes the pool, rather than
        // ending a transform mid-task. A process exits when the hub's end closes its channel.
        detached: true,
      },
      // Piped, not inherited: V8's report of a process it ended is no line of the hub's log.
      emitStdStreams: true,
    })
  return {
    apply(expression, envelope, tenantId) {
      const deadline = Date.now() + queueDeadlineMs
      // A tenant's transforms wait for its share; how many can wait is the worker's to bound (a webhook's
      // maxConcurrency, a tenant's share of the slots), and a wait past the deadline is a TransformBusyError.
      return shares.memo(tenantId)(() => run(expression, envelope, deadline))
    },
    async close() {
      closing = true
      await pool?.terminate(true)
      pool = undefined
    },
  }

  async function run(expression: string, envelope: Envelope, deadline: number): Promise<string> {
    // The hub is stopping: the job is run again, and no process is started after the pool was terminated.
    if (closing) throw new Error('the transformer is closed')
    const waited = `the transform found no free process within ${queueDeadlineMs} ms`
    if (Date.now() >= deadline) throw new TransformBusyError(waited)
    pool ??= startPool()
    let overran = false
    let late = false
    let timer: NodeJS.Timeout | undefined
    const task = pool.exec('transform', [expression, envelope], {
      // The process says when it takes the task: the limit counts neither the queue nor the process's start.
      on: (payload: unknown) => {
        if (payload !== 'started') return
        clearTimeout(timer)
        timer = setTimeout(() => {
          overran = true
          task.cancel()
        }, timeLimitMs)
      },
    })
    timer = setTimeout(() => {
      late = true
      task.cancel()
    }, deadline - Date.now())
    let answer: ProcessAnswer
    try {
      answer = await task
    } catch (error) {
      if (overran) throw new TransformError(`the transform ran longer than ${timeLimitMs} ms and was stopped`)
      if (late) throw new TransformBusyError(waited)
      // A pool closed under a task is the hub stopping, not the transform failing: the job is run again.
      if (closing) throw error
      throw new TransformError(
        `the transform's process ended before it answered: it used more than ${memoryLimitMb} MB, or crashed`,
      )
    } finally {
      clearTimeout(timer)
    }
    if ('error' in answer) throw new TransformError(answer.error)
    return answer.body
  }
}
