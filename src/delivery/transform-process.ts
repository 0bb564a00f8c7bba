// A transform process (run by workerpool from transform.ts): evaluates an expression against an envelope and
// answers with the body, or with why there is none. Compiled expressions are kept, the most recently used.
import { LRUCache } from 'lru-cache'
import workerpool from 'workerpool'
import { MAX_BODY_BYTES } from './envelope.ts'
import { compileTransform, describeTransformError } from './transform-expression.ts'

export type ProcessAnswer = { body: string } | { error: string }

/**
 * The longest string one evaluation step may give: twice the body limit. jsonata calls this hook after every
 * step, so `$s & $s` doubling a string stops at a few MB, before V8 flattens hundreds of them.
 */
const MAX_STRING_LENGTH = 2 * MAX_BODY_BYTES
const EVALUATE_EXIT = Symbol.for('jsonata.__evaluate_exit')
function checkStepResult(_expression: unknown, _input: unknown, _environment: unknown, result: unknown): void {
  if (typeof result === 'string' && result.length > MAX_STRING_LENGTH) {
    throw new Error(`a step made a string of ${result.length} characters; the limit is ${MAX_STRING_LENGTH}`)
  }
}

const compiled = new LRUCache<string, ReturnType<typeof compileTransform>>({
  max: 1000,
  memoMethod: (expression) => {
    const evaluator = compileTransform(expression)
    // jsonata's hook takes a symbol, which its typings do not allow for.
    evaluator.assign(EVALUATE_EXIT as unknown as string, checkStepResult)
    return evaluator
  },
})

/** A function in the result (a jsonata lambda is an object) is left out, as JSON.stringify leaves out its own. */
const withoutFunctions = (_key: string, value: unknown) =>
  typeof value === 'object' && value !== null && (value as { _jsonata_lambda?: unknown })._jsonata_lambda === true
    ? undefined
    : value

async function transform(expression: string, envelope: unknown): Promise<ProcessAnswer> {
  // The pool's time limit starts now.
  workerpool.workerEmit('started')
  let result: unknown
  try {
    result = await compiled.memo(expression).evaluate(envelope)
  } catch (error) {
    return { error: `the transform failed: ${describeTransformError(error)}` }
  }
  let body: string | undefined
  try {
    body = JSON.stringify(result, withoutFunctions)
  } catch (error) {
    return { error: `the transform's result is not JSON: ${describeTransformError(error)}` }
  }
  if (body === undefined) {
    return { error: 'the transform gave no JSON value (nothing in the envelope matched it, or it gave a function)' }
  }
  const bytes = Buffer.byteLength(body)
  if (bytes > MAX_BODY_BYTES) {
    return { error: `the transform made a body of ${bytes} bytes; the limit is ${MAX_BODY_BYTES} (512 KiB)` }
  }
  return { body }
}

workerpool.worker({ transform })
