// A transform process (run by workerpool from transform.ts): evaluates an expression against an envelope and
// answers with the body, or with why there is none. Compiled expressions are kept, the most recently used.
import { LRUCache } from 'lru-cache'
import workerpool from 'workerpool'
import { MAX_BODY_BYTES } from './envelope.ts'
import { compileTransform, describeTransformError } from './transform-expression.ts'

export type ProcessAnswer = { body: string } | { error: string }

const compiled = new LRUCache<string, ReturnType<typeof compileTransform>>({
  max: 1000,
  memoMethod: (expression) => compileTransform(expression),
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
