// The event catalog a tenant sees: the hub's built-in types (handed in at boot, with those the connectors
// declare), overlaid by the tenant's own rows (its registered types, and its deprecations of built-in
// ones). Payloads are validated with ajv, bounded for tenants' schemas in schema-validator.ts.
import type { ErrorObject, ValidateFunction } from 'ajv'
import { LRUCache } from 'lru-cache'
import { db, pool } from '../db/client.ts'
import { withinQuota } from '../db/quotas.ts'
import { badInput, conflict, notFound } from '../errors.ts'
import { type BuiltInEventType, CATEGORY_NAMES } from './built-in-types.ts'
import { RegexError } from './regex.ts'
import { ajv, VALIDATION_TIME_LIMIT_MS, ValidationTimeout, validateInTime } from './schema-validator.ts'
import { TenantCache, tenantChanged } from './tenant-cache.ts'

export interface EventTypeView {
  name: string
  description: string
  category: string
  version: string
  deprecated: boolean
  payloadSchema: Record<string, unknown> | null
  examplePayload: Record<string, unknown> | null
  builtIn: boolean
  /** Identifies this definition's schema for the validator cache. */
  schemaKey: string
}

export const EVENT_TYPE_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$/

/** The largest payloadSchema a tenant may register, as JSON characters. */
const MAX_SCHEMA_LENGTH = 65_536

interface EventTypeRow {
  id: string
  name: string
  description: string
  category: string
  version: string
  deprecated: boolean
  payloadSchema: unknown
  examplePayload: unknown
  updatedAt: Date
}

/** Each tenant's own rows (its types and its deprecations of built-in ones), by name, as publishing reads them. */
const tenantRows = new TenantCache(async (tenantId) => {
  const rows = await db().eventType.findMany({ where: { tenantId } })
  return new Map(rows.map((row) => [row.name, row]))
})

export interface RegisterEventTypeInput {
  name: string
  description?: string | null
  category: string
  version?: string | null
  payloadSchema?: unknown
  examplePayload?: unknown
}

export interface CatalogOptions {
  /** The hub's own event types: the built-in catalog, with the types the installed connectors declare. */
  builtInTypes: readonly BuiltInEventType[]
  /** Event types one tenant may register (its deprecations of built-in types are not counted). */
  maxTypesPerTenant: number
}

export interface EventCatalog {
  /** The tenant's catalog, optionally of one category, by name. */
  list(tenantId: string, category?: string | null): Promise<EventTypeView[]>
  find(tenantId: string, name: string): Promise<EventTypeView | undefined>
  /** Creates a tenant event type, or a new version of one the tenant registered earlier. */
  register(tenantId: string, input: RegisterEventTypeInput): Promise<EventTypeView>
  deprecate(tenantId: string, name: string): Promise<EventTypeView>
  /** The schema violations of `payload`, or an empty list when it conforms (or the type has no schema). */
  validatePayload(type: EventTypeView, payload: unknown): ValidationProblem[]
  categories(types: EventTypeView[]): EventCategoryView[]
  /** The newest event of each type, one index probe per type. */
  lastTriggeredAt(tenantId: string, names: string[]): Promise<Map<string, Date>>
}

export function createEventCatalog({ builtInTypes, maxTypesPerTenant }: CatalogOptions): EventCatalog {
  const builtIns = new Map<string, EventTypeView>(
    builtInTypes.map((type) => [
      type.name,
      { ...type, deprecated: false, builtIn: true, schemaKey: `builtin:${type.name}` } satisfies EventTypeView,
    ]),
  )
  /**
   * Compiled validators by schemaKey, weighed by their schemas' length: a 64 KiB schema compiles to about
   * 1 MB of code, in up to 0.3 s.
   */
  const validators = new LRUCache<string, ValidateFunction>({ maxSize: 4 * 1024 * 1024 })

  const fromRow = (row: EventTypeRow): EventTypeView => ({
    name: row.name,
    description: row.description,
    category: row.category,
    version: row.version,
    deprecated: row.deprecated,
    payloadSchema: (row.payloadSchema as Record<string, unknown> | null) ?? null,
    examplePayload: (row.examplePayload as Record<string, unknown> | null) ?? null,
    builtIn: builtIns.has(row.name),
    schemaKey: `${row.id}:${row.updatedAt.getTime()}`,
  })

  async function find(tenantId: string, name: string): Promise<EventTypeView | undefined> {
    const row = (await tenantRows.get(tenantId)).get(name)
    return row ? fromRow(row) : builtIns.get(name)
  }

  return {
    async list(tenantId, category) {
      const rows = await db().eventType.findMany({ where: { tenantId } })
      const merged = new Map(builtIns)
      for (const row of rows) merged.set(row.name, fromRow(row))
      return [...merged.values()]
        .filter((type) => !category || type.category === category)
        .sort((a, b) => a.name.localeCompare(b.name))
    },

    find,

    async register(tenantId, input) {
      if (!EVENT_TYPE_NAME.test(input.name) || input.name.length > 100) {
        throw badInput('name must be dot-separated lower-case segments, such as "invoice.paid"', { field: 'name' })
      }
      if (builtIns.has(input.name)) {
        throw conflict(`${input.name} is a built-in event type; choose another name, or deprecate it`)
      }
      if (!/^[a-z][a-z0-9_-]{0,49}$/.test(input.category)) {
        throw badInput('category must be a lower-case word, such as "billing"', { field: 'category' })
      }
      const schema = input.payloadSchema ?? null
      if (schema !== null) checkSchema(schema, input)
      const data = {
        description: input.description ?? '',
        category: input.category,
        version: input.version ?? '1.0',
        deprecated: false,
        payloadSchema: schema as object,
        examplePayload: (input.examplePayload ?? null) as object,
      }
      const row = await withinQuota(
        tenantId,
        {
          name: 'event types',
          limit: maxTypesPerTenant,
          // A new version of one of its types replaces it; deprecations of built-in types are not counted.
          used: (tx) => tx.eventType.count({ where: { tenantId, name: { notIn: [...builtIns.keys(), input.name] } } }),
        },
        (tx) =>
          tx.eventType.upsert({
            where: { tenantId_name: { tenantId, name: input.name } },
            create: { tenantId, name: input.name, ...data },
            update: data,
          }),
      )
      await tenantChanged(tenantId)
      return fromRow(row)
    },

    async deprecate(tenantId, name) {
      const existing = await find(tenantId, name)
      if (!existing) throw notFound('event type', name)
      const row = await db().eventType.upsert({
        where: { tenantId_name: { tenantId, name } },
        create: {
          tenantId,
          name,
          description: existing.description,
          category: existing.category,
          version: existing.version,
          deprecated: true,
          payloadSchema: existing.payloadSchema as object,
          examplePayload: existing.examplePayload as object,
        },
        update: { deprecated: true },
      })
      await tenantChanged(tenantId)
      return fromRow(row)
    },

    validatePayload(type, payload) {
      if (!type.payloadSchema) return []
      let validate = validators.get(type.schemaKey)
      if (!validate) {
        validate = compileSchema(type.payloadSchema)
        validators.set(type.schemaKey, validate, { size: JSON.stringify(type.payloadSchema).length })
      }
      return problemsOf(validate, payload, type.name, 'payload')
    },

    categories: categoriesOf,
    lastTriggeredAt,
  }
}

/** A tenant's payloadSchema, checked (and compiled, so a pattern RE2 cannot run is refused now), with its example. */
function checkSchema(schema: unknown, input: RegisterEventTypeInput): void {
  if (JSON.stringify(schema).length > MAX_SCHEMA_LENGTH) {
    throw badInput(`payloadSchema may be at most ${MAX_SCHEMA_LENGTH / 1024} KiB`, { field: 'payloadSchema' })
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema) || !ajv.validateSchema(schema)) {
    throw badInput(`payloadSchema is not a valid JSON Schema: ${ajv.errorsText(ajv.errors)}`, {
      field: 'payloadSchema',
    })
  }
  const validate = compileSchema(schema)
  const problems =
    input.examplePayload === undefined || input.examplePayload === null
      ? []
      : problemsOf(validate, input.examplePayload, input.name, 'examplePayload')
  if (problems.length > 0) {
    throw badInput('examplePayload does not match payloadSchema', {
      field: 'examplePayload',
      validationErrors: problems,
    })
  }
}
/**
 * ajv's validator for a schema; BAD_USER_INPUT when a `pattern` in it cannot run on RE2, or when it is too
 * complex for ajv to compile. The schema is not kept in ajv's own registry: the caller keeps the validator,
 * and tenants' `$id`s never meet.
 */
function compileSchema(schema: object): ValidateFunction {
  try {
    return ajv.compile(schema)
  } catch (error) {
    if (error instanceof RegexError) {
      throw badInput(`payloadSchema has a pattern that ${error.message}`, { field: 'payloadSchema' })
    }
    // ajv's code generator recurses once per nested subschema, and overflows the stack on thousands of them.
    if (error instanceof RangeError) {
      throw badInput('payloadSchema is too complex to compile; use fewer subschemas', { field: 'payloadSchema' })
    }
    throw error
  } finally {
    ajv.removeSchema(schema)
  }
}

export interface ValidationProblem {
  path: string
  message: string
}

/** At most this many violations are reported, however many a schema finds (one per item, per subschema). */
export const MAX_REPORTED_PROBLEMS = 20

function describeErrors(errors: ErrorObject[] | null | undefined): ValidationProblem[] {
  return (errors ?? []).slice(0, MAX_REPORTED_PROBLEMS).map((error) => ({
    path: error.instancePath || '/',
    message: error.message ?? 'is invalid',
  }))
}

/** The violations of `value` (the input `field`) of the `typeName` schema; BAD_USER_INPUT when it cannot tell. */
function problemsOf(validate: ValidateFunction, value: unknown, typeName: string, field: string) {
  try {
    return validateInTime(validate, value) ? [] : describeErrors(validate.errors)
  } catch (error) {
    if (error instanceof ValidationTimeout) {
      throw badInput(
        `checking the ${field} against the ${typeName} schema took longer than ${VALIDATION_TIME_LIMIT_MS} ms; simplify the schema`,
        { field },
      )
    }
    // Only a `$ref` that leads back to itself without reading further into the value recurses this deep.
    if (error instanceof RangeError) throw badInput(`the ${typeName} schema refers to itself without end`, { field })
    throw error
  }
}

export interface EventCategoryView {
  name: string
  displayName: string
  eventCount: number
}

function categoriesOf(types: EventTypeView[]): EventCategoryView[] {
  const counts = new Map<string, number>()
  for (const type of types) counts.set(type.category, (counts.get(type.category) ?? 0) + 1)
  return [...counts.entries()]
    .map(([name, eventCount]) => ({
      name,
      displayName: CATEGORY_NAMES[name] ?? name.charAt(0).toUpperCase() + name.slice(1),
      eventCount,
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

async function lastTriggeredAt(tenantId: string, names: string[]): Promise<Map<string, Date>> {
  const { rows } = await pool().query<{ name: string; at: Date | null }>(
    `SELECT t.name, (SELECT max(e.created_at) FROM events e WHERE e.tenant_id = $1 AND e.type = t.name) AS at
       FROM unnest($2::text[]) AS t(name)`,
    [tenantId, names],
  )
  return new Map(rows.filter((row) => row.at !== null).map((row) => [row.name, row.at as Date]))
}
