// A webhook's transform: a JSONata expression (jsonata), compiled under the guardrails every evaluation runs
// with. Shared by the check when a webhook is saved and by the processes that evaluate it.
import jsonata from 'jsonata'

export const MAX_TRANSFORM_LENGTH = 10_000

/**
 * jsonata's guardrails: an evaluation stops after `timeout` ms (checked at each step), at `stack` nested
 * evaluations, and at `sequence` items in one sequence.
 */
const GUARDRAILS = { timeout: 100, stack: 500, sequence: 100_000 } as const

export const EVALUATION_TIME_LIMIT_MS = GUARDRAILS.timeout

/** The compiled expression; throws jsonata's error (code, position, message) when it does not parse. */
export const compileTransform = (expression: string): jsonata.Expression => jsonata(expression, GUARDRAILS)

/** jsonata's error, or any other, in one line: `message (code at character n)`. */
export function describeTransformError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error)
  const { message, code, position } = error as { message?: unknown; code?: unknown; position?: unknown }
  const where = typeof position === 'number' ? ` at character ${position}` : ''
  const detail = typeof code === 'string' ? ` (${code}${where})` : ''
  return `${typeof message === 'string' ? message : String(error)}${detail}`
}
