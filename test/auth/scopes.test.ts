// The token's `scope` claim: `read` allows queries and subscriptions, `write` (or no claim) everything.
// Every mutation is enumerated from the schema itself, so one added later is covered without a new test.
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLScalarType,
  getNamedType,
  isCompositeType,
} from 'graphql'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { pool } from '../../src/db/client.ts'
import { schema } from '../../src/schema/index.ts'
import { createWebhook } from '../helpers/api.ts'
import { type GraphQLResponse, TEST_JWT_SECRET, take, useTestHub } from '../helpers/hub.ts'

const t = useTestHub()

async function asToken(
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse<Record<string, unknown>>> {
  const response = await t.fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  return (await response.json()) as GraphQLResponse<Record<string, unknown>>
}

/** A value the type accepts, so that the request passes validation and reaches the scope check. */
function sampleOf(type: GraphQLInputType): unknown {
  if (type instanceof GraphQLNonNull) return sampleOf(type.ofType)
  if (type instanceof GraphQLList) return []
  if (type instanceof GraphQLEnumType) return type.getValues()[0]?.name
  if (type instanceof GraphQLInputObjectType) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((field) => field.type instanceof GraphQLNonNull && field.defaultValue === undefined)
        .map((field) => [field.name, sampleOf(field.type)]),
    )
  }
  const scalar = type as GraphQLScalarType
  const samples: Record<string, unknown> = {
    Int: 1,
    Float: 1,
    Boolean: true,
    String: 'x',
    ID: '00000000-0000-7000-8000-000000000000',
    DateTime: new Date().toISOString(),
    JSON: {},
  }
  if (!(scalar.name in samples)) throw new Error(`no sample for scalar ${scalar.name}`)
  return samples[scalar.name]
}

/** Every mutation of the schema, with its required arguments filled in. */
function everyMutation() {
  const fields = Object.values(schema.getMutationType()?.getFields() ?? {})
  return fields.map((field) => {
    const required = field.args.filter((arg) => arg.type instanceof GraphQLNonNull && arg.defaultValue === undefined)
    const declarations = required.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ')
    const passed = required.map((arg) => `${arg.name}: $${arg.name}`).join(', ')
    const selection = isCompositeType(getNamedType(field.type)) ? '{ __typename }' : ''
    return {
      name: field.name,
      query: `mutation${declarations ? ` (${declarations})` : ''} { ${field.name}${passed ? `(${passed})` : ''} ${selection} }`,
      variables: Object.fromEntries(required.map((arg) => [arg.name, sampleOf(arg.type)])),
    }
  })
}

async function rowCounts(tenant: string) {
  const { rows } = await pool().query(
    `SELECT (SELECT count(*) FROM events WHERE tenant_id = $1)::int AS events,
            (SELECT count(*) FROM webhooks WHERE tenant_id = $1)::int AS webhooks,
            (SELECT count(*) FROM event_types WHERE tenant_id = $1)::int AS event_types,
            (SELECT count(*) FROM integrations WHERE tenant_id = $1)::int AS integrations,
            (SELECT count(*) FROM deliveries WHERE tenant_id = $1)::int AS deliveries`,
    [tenant],
  )
  return rows[0]
}

describe('a read-only token (scope "read")', () => {
  it('gets FORBIDDEN from every mutation of the schema, and changes nothing', async () => {
    const tenant = 'reader'
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/' }, tenant)
    const before = await rowCounts(tenant)
    const token = await signToken(TEST_JWT_SECRET, tenant, { scope: 'read' })
    const mutations = everyMutation()
    expect(mutations.length).toBeGreaterThan(10)

    const codes: Record<string, unknown> = {}
    for (const mutation of mutations) {
      const variables = { ...mutation.variables, ...('id' in mutation.variables ? { id: hook.id } : {}) }
      const result = await asToken(token, mutation.query, variables)
      codes[mutation.name] = result.errors?.map((error) => error.extensions?.code).join(',')
      expect(result.data?.[mutation.name] ?? null).toBeNull()
    }
    expect(codes).toEqual(Object.fromEntries(mutations.map((mutation) => [mutation.name, 'FORBIDDEN'])))
    expect(await rowCounts(tenant)).toEqual(before)
  })

  it('runs queries and subscriptions, and says what it allows', async () => {
    const token = await signToken(TEST_JWT_SECRET, 'reader', { scope: 'read' })
    expect(await asToken(token, '{ viewer { tenant scopes } }')).toEqual({
      data: { viewer: { tenant: 'reader', scopes: ['read'] } },
    })
    const webhooks = await asToken(token, '{ webhooks(first: 5) { edges { node { id } } } }')
    expect(webhooks.errors).toBeUndefined()
    const ticks = await take<{ heartbeat: string }>(
      t.wsWithToken(token),
      'subscription { heartbeat(intervalMs: 100) }',
      2,
    )
    expect(ticks).toHaveLength(2)
  })

  it('names the scope a mutation needs', async () => {
    const token = await signToken(TEST_JWT_SECRET, 'reader', { scope: 'read' })
    const result = await asToken(token, 'mutation { deleteWebhook(id: "00000000-0000-7000-8000-000000000000") }')
    expect(result.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/`write` scope/),
      extensions: { code: 'FORBIDDEN' },
    })
  })
})

describe('other scopes', () => {
  const create = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }'
  const input = { input: { name: 'scoped', url: 'http://127.0.0.1:9/', events: ['*'] } }

  it('lets a "write" token, and a token without a scope claim, mutate', async () => {
    for (const options of [{ scope: 'write' }, { scope: 'read write' }, {}]) {
      const token = await signToken(TEST_JWT_SECRET, 'writer', options)
      const result = await asToken(token, create, input)
      expect(result.errors).toBeUndefined()
      const viewer = await asToken(token, '{ viewer { scopes } }')
      expect(viewer.data).toEqual({ viewer: { scopes: ['read', 'write'] } })
    }
  })

  it('grants nothing to a scope claim that names neither read nor write', async () => {
    const token = await signToken(TEST_JWT_SECRET, 'stranger', { scope: 'openid profile' })
    for (const query of ['{ viewer { tenant } }', 'mutation { deleteWebhook(id: "x") }']) {
      const result = await asToken(token, query)
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    }
  })

  it('reads an identity provider’s `scp` claim (a list, or space-separated) as it reads `scope`', async () => {
    for (const scp of [['openid', 'read'], 'openid read']) {
      const token = await new SignJWT({ scp })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('scp-reader')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET))
      expect((await asToken(token, create, input)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
      expect(await asToken(token, '{ viewer { scopes } }')).toEqual({ data: { viewer: { scopes: ['read'] } } })
    }
  })

  it('still answers UNAUTHENTICATED, not FORBIDDEN, without a token', async () => {
    const result = await t.gql(create, input, null)
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })
})
