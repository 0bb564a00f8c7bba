// The ajv that checks payloads against tenants' schemas. Any tenant may write a schema, and payloads are
// checked in the API process, so nothing a schema says may cost more than time linear in the payload:
// - `pattern` and `patternProperties` run on RE2 (regex.ts);
// - `uniqueItems` hashes each item's canonical JSON once, where ajv compares every pair of items;
// - a format reads at most MAX_FORMAT_INPUT_LENGTH characters, and `url` is the WHATWG URL parser, where
//   ajv-formats' expression takes time quadratic in the value (its other formats take linear time);
// - a `$ref` is compiled once and called, where ajv copies the code of its target into every use.
// What a schema can still multiply (a `$ref` followed twice at every level of the payload, a long `enum`
// against every item) is stopped after VALIDATION_TIME_LIMIT_MS. Only a schema that holds such a keyword
// pays for that watch (a thread of vm's, about 0.1 ms a call); any other runs in time linear in the payload.
import vm from 'node:vm'
import { Ajv, type FormatDefinition, type SchemaValidateFunction, type ValidateFunction } from 'ajv'
import type { AddedFormat, FormatValidator, RegExpEngine } from 'ajv/dist/types/index.js'
import addFormatsModule from 'ajv-formats'
import stringify from 'safe-stable-stringify'
import { compileRegex } from './regex.ts'

/** A string longer than this (in UTF-16 code units) matches no format. */
export const MAX_FORMAT_INPUT_LENGTH = 4096

/** The longest a payload's check may run; past it, the payload is refused. */
export const VALIDATION_TIME_LIMIT_MS = 500

/** ajv asks for each pattern with the `u` flag, which is RE2's only mode. */
const re2: RegExpEngine = Object.assign((pattern: string) => compileRegex(pattern), { code: 'compileRegex' })

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv
export const ajv = addFormats(new Ajv({ allErrors: true, strict: false, inlineRefs: false, code: { regExp: re2 } }))

const WEB_PROTOCOLS = new Set(['http:', 'https:', 'ftp:'])

/** ajv-formats' `url`: an http, https or ftp URL with a host. */
const isWebUrl = (value: string) => {
  const url = URL.parse(value)
  return url !== null && WEB_PROTOCOLS.has(url.protocol) && url.hostname !== ''
}

/** The check, on strings of at most MAX_FORMAT_INPUT_LENGTH characters. */
function readingAtMost(check: string | RegExp | FormatValidator<string>): FormatValidator<string> {
  if (typeof check === 'function') return (value) => value.length <= MAX_FORMAT_INPUT_LENGTH && check(value)
  const expression = typeof check === 'string' ? new RegExp(check, 'u') : check
  return (value) => value.length <= MAX_FORMAT_INPUT_LENGTH && expression.test(value)
}

function bounded(format: AddedFormat): AddedFormat {
  if (format === true) return format
  if (format instanceof RegExp || typeof format === 'function') return readingAtMost(format)
  if (format.type === 'number' || format.async) return format
  const definition = format as FormatDefinition<string>
  return { ...definition, validate: readingAtMost(definition.validate) }
}

for (const [name, format] of Object.entries(ajv.formats)) {
  if (format !== undefined) ajv.addFormat(name, bounded(name === 'url' ? isWebUrl : format))
}

/** `uniqueItems` in linear time: each item's JSON with sorted keys, so that equal items write the same. */
const hasUniqueItems: SchemaValidateFunction = (unique: boolean, items: unknown[]) => {
  if (!unique) return true
  const seen = new Map<string | undefined, number>()
  for (const [index, item] of items.entries()) {
    const key = stringify(item)
    const first = seen.get(key)
    if (first !== undefined) {
      hasUniqueItems.errors = [
        {
          keyword: 'uniqueItems',
          params: { i: index, j: first },
          message: `must NOT have duplicate items (items ## ${first} and ${index} are identical)`,
        },
      ]
      return false
    }
    seen.set(key, index)
  }
  return true
}

ajv.removeKeyword('uniqueItems')
ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', validate: hasUniqueItems })

export class ValidationTimeout extends Error {
  constructor() {
    super(`validation took longer than ${VALIDATION_TIME_LIMIT_MS} ms`)
    this.name = 'ValidationTimeout'
  }
}

// vm's timeout ends whatever JavaScript runs under it, the validator called from the script included.
const sandbox = vm.createContext({})
const callValidator = new vm.Script('validate(data)')

/** Keywords whose cost is not linear in the payload: references, combinations, and long enumerations. */
const MULTIPLYING = new Set([
  '$ref',
  '$dynamicRef',
  '$recursiveRef',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'contains',
  'dependentSchemas',
  'dependencies',
  'unevaluatedItems',
  'unevaluatedProperties',
])
const LONG_ENUM = 64

/** Whether the schema holds a keyword that can multiply the work a payload costs. */
export function canMultiply(schema: unknown): boolean {
  const pending: unknown[] = [schema]
  for (let node = pending.pop(); pending.length > 0 || node !== undefined; node = pending.pop()) {
    if (typeof node !== 'object' || node === null) continue
    if (Array.isArray(node)) {
      pending.push(...node)
      continue
    }
    for (const [key, value] of Object.entries(node)) {
      if (MULTIPLYING.has(key)) return true
      if (key === 'enum' && Array.isArray(value) && value.length > LONG_ENUM) return true
      pending.push(value)
    }
  }
  return false
}

const watched = new WeakMap<ValidateFunction, boolean>()

/** Whether `data` satisfies `validate`'s schema; ValidationTimeout after VALIDATION_TIME_LIMIT_MS. */
export function validateInTime(validate: ValidateFunction, data: unknown): boolean {
  let watch = watched.get(validate)
  if (watch === undefined) {
    watch = canMultiply(validate.schema)
    watched.set(validate, watch)
  }
  if (!watch) return validate(data) as boolean
  Object.assign(sandbox, { validate, data })
  try {
    return callValidator.runInContext(sandbox, { timeout: VALIDATION_TIME_LIMIT_MS }) as boolean
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new ValidationTimeout()
    throw error
  } finally {
    Object.assign(sandbox, { validate: undefined, data: undefined })
  }
}
