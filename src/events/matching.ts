// Which webhooks an event reaches: event patterns (`order.created`, `order.*`, `*`) and payload filters.
//
// Filters come in two forms, freely mixed, at the top and inside `$and` and `$or` alike:
// - the shorthand `{ "order_status": ["confirmed", "shipped"], "min_amount": 100 }`: a list means
//   "one of", `min_`/`max_` prefixes on a number are inclusive bounds, anything else is equality;
// - the operator form `{ "amount": { "$gte": 100 }, "$or": [...] }` over payload paths.
// Both compile to a sift query run with an allow-list of operators (no `$where`, nothing that runs code).
// `$regex` runs on RE2, and never matches a string longer than MAX_REGEX_INPUT_LENGTH (regex.ts).

import sift, { type Query } from 'sift'
import { badInput } from '../errors.ts'
import { compileRegex, RegexError, type TenantRegex } from './regex.ts'

/** Payload paths one webhook's filters may test, counted across `$and` and `$or`. */
export const MAX_FILTER_CONDITIONS = 50

// sift is CommonJS: its operators hang off the default export under Node.
const {
  $and,
  $eq,
  $exists,
  $gt,
  $gte,
  $in,
  $lt,
  $lte,
  $ne,
  $nin,
  $options,
  $or,
  createEqualsOperation,
  createQueryTester,
} = sift

/** sift's `$regex`, on RE2. A stored pattern RE2 cannot compile (one saved before RE2) matches nothing. */
const $regex = (pattern: unknown, ownerQuery: Record<string, unknown>, options: Parameters<typeof $eq>[2]) => {
  const flags = typeof ownerQuery.$options === 'string' ? ownerQuery.$options : ''
  let regex: TenantRegex | undefined
  try {
    regex = compileRegex(String(pattern), flags)
  } catch (error) {
    if (!(error instanceof RegexError)) throw error
  }
  return createEqualsOperation(
    (value: unknown) => typeof value === 'string' && regex?.test(value) === true,
    ownerQuery,
    options,
  )
}

const operations = { $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $regex, $options, $and, $or }
const OPERATORS = new Set(Object.keys(operations))

export type Filters = Record<string, unknown>

const PATTERN = /^(\*|[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?)$/

export function isValidPattern(pattern: string): boolean {
  return pattern.length <= 100 && PATTERN.test(pattern)
}

/** `*` matches everything; `order.*` matches `order.created` and `order.item.added`; else exact. */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1))
  return pattern === type
}

/** The patterns that can match `type`: `*`, every `prefix.*`, and the name itself. */
export function patternsFor(type: string): string[] {
  const segments = type.split('.')
  const prefixes = segments.slice(0, -1).map((_, index) => `${segments.slice(0, index + 1).join('.')}.*`)
  return ['*', ...prefixes, type]
}

export function firstMatchingPattern(patterns: readonly string[], type: string): string | undefined {
  return patterns.find((pattern) => matchesPattern(pattern, type))
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isOperatorObject = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((key) => key.startsWith('$'))

/** Checks a filter document at create/update time; returns it unchanged, or throws BAD_USER_INPUT. */
export function validateFilters(filters: unknown): Filters | null {
  if (filters === null || filters === undefined) return null
  if (!isPlainObject(filters)) throw badInput('filters must be a JSON object', { field: 'filters' })
  if (JSON.stringify(filters).length > 16_384) throw badInput('filters may be at most 16 KiB', { field: 'filters' })
  const conditions = { count: 0 }
  checkQuery(filters, 'filters', 0, conditions)
  return filters
}

function checkQuery(query: Record<string, unknown>, at: string, depth: number, conditions: { count: number }): void {
  if (depth > 8) throw badInput(`${at} nests too deeply`, { field: 'filters' })
  for (const [key, value] of Object.entries(query)) {
    const here = `${at}.${key}`
    if (!key.startsWith('$') && ++conditions.count > MAX_FILTER_CONDITIONS) {
      throw badInput(`filters may test at most ${MAX_FILTER_CONDITIONS} payload paths`, { field: 'filters' })
    }
    if (key.startsWith('$')) {
      if (key !== '$and' && key !== '$or') {
        throw badInput(`${here}: only $and and $or may stand at the top of a condition`, { field: 'filters' })
      }
      if (!Array.isArray(value) || value.length === 0 || !value.every(isPlainObject)) {
        throw badInput(`${here} must be a non-empty list of conditions`, { field: 'filters' })
      }
      for (const [index, condition] of value.entries()) {
        checkQuery(condition as Record<string, unknown>, `${here}[${index}]`, depth + 1, conditions)
      }
    } else if (isOperatorObject(value)) {
      checkOperators(value, here)
    } else if (isPlainObject(value)) {
      throw badInput(`${here}: use a dotted path ("customer.tier") or an operator object ({ "$eq": ... })`, {
        field: 'filters',
      })
    }
  }
}

function checkOperators(operators: Record<string, unknown>, at: string): void {
  for (const [operator, operand] of Object.entries(operators)) {
    const here = `${at}.${operator}`
    if (!OPERATORS.has(operator) || operator === '$and' || operator === '$or') {
      throw badInput(`${here}: unknown operator; use one of $eq $ne $in $nin $gt $gte $lt $lte $exists $regex`, {
        field: 'filters',
      })
    }
    if ((operator === '$in' || operator === '$nin') && !Array.isArray(operand)) {
      throw badInput(`${here} must be a list`, { field: 'filters' })
    }
    if (operator === '$exists' && typeof operand !== 'boolean') {
      throw badInput(`${here} must be true or false`, { field: 'filters' })
    }
    if (operator === '$options' && (typeof operand !== 'string' || !/^[imsu]*$/.test(operand))) {
      throw badInput(`${here} may hold only the flags i, m, s, u`, { field: 'filters' })
    }
    if (operator === '$regex') checkRegex(operand, operators.$options, here)
  }
}

function checkRegex(pattern: unknown, options: unknown, at: string): void {
  if (typeof pattern !== 'string' || pattern.length > 200) {
    throw badInput(`${at} must be a regular expression of at most 200 characters`, { field: 'filters' })
  }
  try {
    compileRegex(pattern, typeof options === 'string' ? options : '')
  } catch (error) {
    if (!(error instanceof RegexError)) throw error
    throw badInput(`${at} ${error.message}`, { field: 'filters' })
  }
}

export function valueAt(payload: unknown, path: string): unknown {
  let current: unknown = payload
  for (const segment of path.split('.')) {
    if (!isPlainObject(current) && !Array.isArray(current)) return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}

/**
 * The payload path a shorthand key names. A key is a dotted payload path; when the payload has no such
 * path and the key starts with the event's first segment (`order_status` on `order.created`), the rest
 * of the key is tried (`status`), so the seed's filters work on its payloads.
 */
export function resolveKey(key: string, eventType: string, payload: unknown): string {
  if (valueAt(payload, key) !== undefined) return key
  const prefix = `${eventType.split('.')[0]}_`
  if (key.startsWith(prefix) && valueAt(payload, key.slice(prefix.length)) !== undefined)
    return key.slice(prefix.length)
  return key
}

export interface Condition {
  /** The filter entry as written. */
  filter: Record<string, unknown>
  /** The payload path it tests; null for `$and`/`$or`. */
  path: string | null
  query: Query<unknown>
}

/**
 * One filter entry as a sift query. The shorthand is read at every level: inside `$and` and `$or` as at
 * the top.
 */
function conditionOf(key: string, value: unknown, eventType: string, payload: unknown): Omit<Condition, 'filter'> {
  if (key === '$and' || key === '$or') {
    const documents = value as Filters[]
    return { path: null, query: { [key]: documents.map((each) => documentQuery(each, eventType, payload)) } }
  }
  if (isOperatorObject(value)) return { path: key, query: { [key]: value } as Query<unknown> }
  const bound = /^(min|max)_(.+)$/.exec(key)
  if (bound?.[1] && bound[2] && typeof value === 'number') {
    const path = resolveKey(bound[2], eventType, payload)
    return { path, query: { [path]: { [bound[1] === 'min' ? '$gte' : '$lte']: value } } as Query<unknown> }
  }
  const path = resolveKey(key, eventType, payload)
  const query = Array.isArray(value) ? { [path]: { $in: value } } : { [path]: { $eq: value } }
  return { path, query: query as Query<unknown> }
}

/**
 * A filter document whose entries must all hold, each entry its own query: `min_amount` and `max_amount`
 * test the same path, so they cannot share one object.
 */
function documentQuery(filters: Filters, eventType: string, payload: unknown): Query<unknown> {
  return {
    $and: Object.entries(filters).map(([key, value]) => conditionOf(key, value, eventType, payload).query),
  } as Query<unknown>
}

/** One condition per top-level filter entry, each compiled to a sift query. */
export function conditionsOf(filters: Filters, eventType: string, payload: unknown): Condition[] {
  return Object.entries(filters).map(([key, value]) => ({
    filter: { [key]: value },
    ...conditionOf(key, value, eventType, payload),
  }))
}

export const testCondition = (condition: Condition, payload: unknown): boolean =>
  createQueryTester(condition.query, { operations })(payload)

export function filtersMatch(filters: Filters | null, eventType: string, payload: unknown): boolean {
  if (!filters) return true
  return conditionsOf(filters, eventType, payload).every((condition) => testCondition(condition, payload))
}
