// A connector's config fields as data, for the catalog and for the hub's handling of secrets and URLs: read
// from the zod schema's JSON Schema (z.toJSONSchema), where `secret(...)` leaves its mark.
import { z } from 'zod'

/** Flags a config field as secret: sealed at rest, masked in every answer, scrubbed from logged messages. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ secret: true }) as T
}

export interface ConfigField {
  name: string
  /** string, url, number, boolean, enum, json */
  type: string
  required: boolean
  secret: boolean
  description: string
}

/** A property of the config's JSON Schema, as z.toJSONSchema writes it (with the fields' metadata). */
interface JsonSchemaProperty {
  type?: string | string[]
  format?: string
  enum?: unknown[]
  anyOf?: JsonSchemaProperty[]
  description?: string
  secret?: unknown
}

/** A nullable field's schema without its null alternative (`type: [t, 'null']` or `anyOf`), and whether it had one. */
function withoutNull(property: JsonSchemaProperty): { schema: JsonSchemaProperty; nullable: boolean } {
  if (Array.isArray(property.type) && property.type.includes('null')) {
    const types = property.type.filter((type) => type !== 'null')
    return { schema: { ...property, type: types.length === 1 ? types[0] : types }, nullable: true }
  }
  const others = property.anyOf?.filter((alternative) => alternative.type !== 'null') ?? []
  if (others.length === 1 && property.anyOf?.length === 2) {
    const { anyOf: _alternatives, ...annotations } = property
    return { schema: { ...annotations, ...others[0] }, nullable: true }
  }
  return { schema: property, nullable: false }
}

function typeOf(property: JsonSchemaProperty): string {
  if (property.enum) return 'enum'
  if (property.type === 'string') return property.format === 'uri' ? 'url' : 'string'
  if (property.type === 'number' || property.type === 'integer') return 'number'
  if (property.type === 'boolean') return 'boolean'
  return 'json'
}

/** The config fields a schema declares, as the catalog shows them. */
export function configFieldsOf(schema: z.ZodObject): ConfigField[] {
  // The input's schema: a field with a default need not be given. Whatever JSON Schema cannot say is `json`.
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchemaProperty>
    required?: string[]
  }
  const required = new Set(json.required)
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { schema: field, nullable } = withoutNull(property)
    return {
      name,
      type: typeOf(field),
      required: required.has(name) && !nullable,
      secret: field.secret === true,
      description: field.description ?? '',
    }
  })
}
