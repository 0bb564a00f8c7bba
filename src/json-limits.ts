// One bound on how deeply JSON input nests, checked wherever JSON comes in: the GraphQL JSON scalar (payloads,
// filters, headers, configs, schemas) and publishing (inbound provider webhooks too). Code that walks JSON by
// recursion (JSON.stringify, ajv, sift) never meets deeper input, so it cannot overflow the stack.
import { badInput } from './errors.ts'

/** How many objects and arrays, each inside the last, JSON input may nest. */
export const MAX_JSON_DEPTH = 64

/**
 * BAD_USER_INPUT naming `field` and the limit when `value` nests objects and arrays deeper than `max`.
 * Iterative, so that no depth overflows the check itself.
 */
export function assertJsonDepth(value: unknown, max: number, field: string): void {
  const pending: Array<[value: unknown, depth: number]> = [[value, 1]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, depth] = next
    if (typeof current !== 'object' || current === null) continue
    if (depth > max) {
      throw badInput(`${field} nests deeper than ${max} levels of objects and arrays`, { field, limit: max })
    }
    for (const child of Object.values(current)) pending.push([child, depth + 1])
  }
}
