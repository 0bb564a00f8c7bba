// Tenant isolation, generated from the schema itself: every query, mutation and subscription that takes an
// id is called by tenant B with each of tenant A's ids, and must answer NOT_FOUND, change none of A's rows,
// and write nothing of A's under B. Every mutation that takes no id (a tenant-wide one, such as
// recoverDeliveries) is called by tenant B too, and must change none of A's rows. A new operation is covered
// without anyone adding it here.
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schema } from '../src/schema/index.ts'
import { createWebhook, deliveryReaches, publish } from './helpers/api.ts'
import { useTestHub } from './helpers/hub.ts'
import { type Receiver, startReceiver } from './helpers/receiver.ts'

const A = 'tenant-a'
const B = 'tenant-b'

const t = useTestHub({ env: { SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true' }, captureLogs: true })
let receiver: Receiver
/** Tenant A's ids, by what they name (filled in before the cases run). */
const KINDS = ['webhook', 'event', 'delivery', 'eventType'] as const
type Kind = (typeof KINDS)[number]
const ids: Record<Kind, string> = { webhook: '', event: '', delivery: '', eventType: 'tenant_a.private' }
/** The caller's own ids, for the id arguments a case does not test. */
const own: Record<string, Record<Kind, string>> = {
  [A]: ids,
  [B]: { webhook: '', event: '', delivery: '', eventType: 'tenant_b.private' },
}
/** What an id argument names, by its name; undefined when the name does not say. */
const kindOf = (name: string): Kind | undefined =>
  KINDS.find((kind) => kind !== 'eventType' && name.toLowerCase().includes(kind))
const MARKER = 'only-tenant-a-knows-this'
let before: Record<string, string>

beforeAll(async () => {
  receiver = await startReceiver((request) => (request.path.endsWith('/failing') ? { status: 500 } : undefined))
  const hook = await createWebhook(t, { url: `${receiver.url}/${MARKER}`, name: MARKER, events: ['*'] }, A)
  ids.webhook = hook.id
  // A failed delivery of A's too, which a tenant-wide recovery by B must leave alone.
  const failing = await createWebhook(
    t,
    { url: `${receiver.url}/failing`, name: MARKER, events: ['order.created'], retryPolicy: { maxRetries: 0 } },
    A,
  )
  const event = await publish(t, 'order.created', { order_id: MARKER, status: 'confirmed', amount: 1 }, { tenant: A })
  ids.event = event.id
  const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED', undefined, A)
  ids.delivery = delivery.id
  await deliveryReaches(t, failing.id, 'FAILED', undefined, A)
  // B has data of its own, so an answer from B's rows cannot pass for a refusal.
  const hookOfB = await createWebhook(t, { url: receiver.url, name: 'b-hook', events: ['*'] }, B)
  const eventOfB = await publish(t, 'order.created', { order_id: 'B-1', status: 'confirmed', amount: 1 }, { tenant: B })
  const deliveryOfB = await deliveryReaches(t, hookOfB.id, 'SUCCEEDED', undefined, B)
  own[B] = { ...own[B], webhook: hookOfB.id, event: eventOfB.id, delivery: deliveryOfB.id } as Record<Kind, string>
  // A custom event type is named, not numbered: its name is its id.
  for (const [tenant, name] of [
    [A, ids.eventType],
    [B, own[B]?.eventType],
  ]) {
    await t.data(
      'mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name } }',
      { input: { name, category: MARKER, description: MARKER } },
      tenant,
    )
  }
  before = await snapshotOfA()
})
afterAll(() => receiver?.close())

/** A value the argument accepts, of no particular meaning; ids are placed by the caller. */
function sample(type: GraphQLInputType, name: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, name)
  if (isListType(type)) return [sample(type.ofType, name)]
  if (isEnumType(type)) return type.getValues()[0]?.value
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((field) => isNonNullType(field.type) && field.defaultValue === undefined)
        .map((field) => [field.name, sample(field.type, field.name)]),
    )
  }
  switch (getNamedType(type).name) {
    case 'Int':
      return 1
    case 'Float':
      return 1
    case 'Boolean':
      return true
    case 'DateTime':
      return '2020-01-01T00:00:00.000Z'
    case 'JSON':
      // A payload for the sampled type, order.created, that its schema accepts: publishes by B get stored.
      return name === 'payload' ? { order_id: 'B-sample', status: 'confirmed', amount: 1 } : {}
    default:
      return name === 'event' || name === 'type' ? 'order.created' : 'x'
  }
}

const isId = (arg: GraphQLArgument) => getNamedType(arg.type).name === 'ID'
const namesEventType = (field: GraphQLField<unknown, unknown>, arg: GraphQLArgument) =>
  arg.name === 'name' && /eventType$/i.test(field.name)

interface Case {
  operation: 'query' | 'mutation' | 'subscription'
  field: string
  arg: string
  idKind: Kind
  document: string
  /** The variables, with the ids left out: they are known only once the data exists. */
  variables: Record<string, unknown>
  /** The other id arguments, filled with the caller's own ids of the kind their name says. */
  ownIds: Record<string, Kind>
}

/** One case per (operation field, ID argument, kind of A's id). */
function casesFor(operation: Case['operation'], type: GraphQLObjectType | null | undefined): Case[] {
  if (!type) return []
  return Object.values(type.getFields()).flatMap((field: GraphQLField<unknown, unknown>) =>
    field.args
      .filter((arg) => isId(arg) || namesEventType(field, arg))
      .flatMap((idArg) =>
        (namesEventType(field, idArg) ? (['eventType'] as const) : KINDS.filter((kind) => kind !== 'eventType')).map(
          (idKind) => {
            const variables: Record<string, unknown> = {}
            const ownIds: Record<string, Kind> = {}
            const declared: string[] = []
            const passed: string[] = []
            for (const arg of field.args) {
              const required = isNonNullType(arg.type) && arg.defaultValue === undefined
              const kind = arg !== idArg && isId(arg) ? kindOf(arg.name) : undefined
              if (arg !== idArg && !required && !kind) continue
              if (kind) ownIds[arg.name] = kind
              else if (arg !== idArg) variables[arg.name] = sample(arg.type, arg.name)
              declared.push(`$${arg.name}: ${arg.type.toString()}`)
              passed.push(`${arg.name}: $${arg.name}`)
            }
            const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }'
            const document = `${operation} (${declared.join(', ')}) { ${field.name}(${passed.join(', ')})${selection} }`
            return { operation, field: field.name, arg: idArg.name, idKind, document, variables, ownIds }
          },
        ),
      ),
  )
}

const cases = [
  ...casesFor('query', schema.getQueryType()),
  ...casesFor('mutation', schema.getMutationType()),
  ...casesFor('subscription', schema.getSubscriptionType()),
]

/** The mutations that take no id: each called once, with its required arguments only. */
const tenantWide = Object.values(schema.getMutationType()?.getFields() ?? {})
  .filter((field) => !field.args.some((arg) => isId(arg) || namesEventType(field, arg)))
  .map((field) => {
    const required = field.args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined)
    const declared = required.map((arg) => `$${arg.name}: ${arg.type.toString()}`)
    const passed = required.map((arg) => `${arg.name}: $${arg.name}`)
    const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }'
    const document = `mutation${declared.length ? ` (${declared.join(', ')})` : ''} { ${field.name}${
      passed.length ? `(${passed.join(', ')})` : ''
    }${selection} }`
    const variables = Object.fromEntries(required.map((arg) => [arg.name, sample(arg.type, arg.name)]))
    return { field: field.name, document, variables }
  })

/** Every row of A's, hashed per table: a change anywhere shows. */
async function snapshotOfA(): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: t.db.url })
  await client.connect()
  try {
    const tables = ['webhooks', 'events', 'deliveries', 'event_types', 'integrations']
    const snapshot: Record<string, string> = {}
    for (const table of tables) {
      const { rows } = await client.query<{ digest: string | null }>(
        `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${table} t WHERE tenant_id = $1`,
        [A],
      )
      snapshot[table] = rows[0]?.digest ?? ''
    }
    const { rows } = await client.query<{ digest: string | null }>(
      `SELECT md5(string_agg(a::text, '|' ORDER BY a::text)) AS digest
         FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.tenant_id = $1`,
      [A],
    )
    snapshot.delivery_attempts = rows[0]?.digest ?? ''
    return snapshot
  } finally {
    await client.end()
  }
}

async function subscribeOnce(tenant: string, query: string, variables: Record<string, unknown>) {
  const client = t.ws(tenant)
  return new Promise<{ errors?: Array<{ extensions?: { code?: string } }> }>((resolve) => {
    // No answer in 10 s is taken as none (only a case that fails waits that long).
    const timer = setTimeout(() => {
      dispose()
      resolve({})
    }, 10_000)
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          clearTimeout(timer)
          dispose()
          resolve(result as never)
        },
        error: (error) => {
          clearTimeout(timer)
          resolve({ errors: Array.isArray(error) ? error : [{ extensions: { code: String(error) } }] })
        },
        complete: () => {
          clearTimeout(timer)
          resolve({})
        },
      },
    )
  })
}

async function run(tenant: string, testCase: Case) {
  const mine = Object.fromEntries(Object.entries(testCase.ownIds).map(([arg, kind]) => [arg, own[tenant]?.[kind]]))
  const variables = { ...testCase.variables, ...mine, [testCase.arg]: ids[testCase.idKind] }
  if (testCase.operation === 'subscription') return subscribeOnce(tenant, testCase.document, variables)
  return t.gql(testCase.document, variables, tenant)
}

describe('tenant B with tenant A’s ids', () => {
  it('finds operations to try in every root type', () => {
    for (const operation of ['query', 'mutation', 'subscription']) {
      expect(cases.some((c) => c.operation === operation)).toBe(true)
    }
  })

  it.each(cases.map((c) => [`${c.operation} ${c.field}(${c.arg}: A's ${c.idKind})`, c] as const))(
    '%s answers NOT_FOUND',
    async (_name, testCase) => {
      const result = await run(B, testCase)
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND'])
    },
  )

  it('finds the tenant-wide mutations', () => {
    expect(tenantWide.map((c) => c.field)).toEqual(
      expect.arrayContaining(['recoverDeliveries', 'publishEvent', 'publishEvents']),
    )
  })

  it.each(tenantWide.map((c) => [c.field, c] as const))(
    'mutation %s by B changes none of A’s rows',
    async (_name, c) => {
      const result = await t.gql(c.document, c.variables, B)
      expect(result.errors?.map((error) => error.extensions?.code) ?? []).not.toContain('INTERNAL_SERVER_ERROR')
      expect(await snapshotOfA()).toEqual(before)
    },
  )

  it('stored B’s publishes of the cases above as B’s own events', async () => {
    const client = new pg.Client({ connectionString: t.db.url })
    await client.connect()
    try {
      const { rows } = await client.query<{ tenant_id: string; count: number }>(
        `SELECT tenant_id, count(*)::int AS count FROM events WHERE payload->>'order_id' = 'B-sample' GROUP BY tenant_id`,
      )
      // publishEvent and publishEvents, one event each.
      expect(rows).toEqual([{ tenant_id: B, count: 2 }])
    } finally {
      await client.end()
    }
  })

  it('changed none of A’s rows, and logged none of A’s data under B', async () => {
    expect(await snapshotOfA()).toEqual(before)
    const underB = t
      .logs()
      .split('\n')
      .filter((line) => line.includes(`"tenant":"${B}"`))
    expect(underB.filter((line) => line.includes(MARKER))).toEqual([])
  })
})

describe('the same queries by tenant A', () => {
  // The control: each query finds A's id of the right kind, so NOT_FOUND above is about the tenant.
  const queries = cases.filter((c) => c.operation === 'query')
  const fields = [...new Set(queries.map((c) => `${c.field}(${c.arg})`))]
  it.each(fields)('%s finds one of A’s ids', async (name) => {
    const results = await Promise.all(queries.filter((c) => `${c.field}(${c.arg})` === name).map((c) => run(A, c)))
    expect(results.some((result) => !result.errors?.length)).toBe(true)
  })
})
