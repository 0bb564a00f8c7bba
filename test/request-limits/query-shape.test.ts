// graphql-armor's limits on the document, for every caller: refused with BAD_USER_INPUT before it runs,
// over HTTP and graphql-ws alike; and introspection needs a token whose scope grants `read`.
import { getIntrospectionQuery } from 'graphql'
import { describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { QUERY_LIMITS } from '../../src/request-limits.ts'
import { type GraphQLResponse, TEST_JWT_SECRET, take, useTestHub } from '../helpers/hub.ts'

const t = useTestHub()

const repeat = (count: number, piece: (index: number) => string) =>
  Array.from({ length: count }, (_, index) => piece(index)).join(' ')

/** `{ __schema { types { fields { type { ofType { … } } } } } }`, `levels` deep in all. */
function deepIntrospection(levels: number): string {
  const ofTypes = levels - 4
  return `{ __schema { types { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } } }`
}

// GraphiQL asks with some of these options; every one of them makes the deepest, longest query.
const GRAPHIQL_INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
})

const WEBHOOK_FIELDS = `id name description url events headers isActive disabledReason disabledAt secretHint
  previousSecretExpiresAt retryPolicy { maxRetries retryDelayMs backoffMultiplier scheduleMs } filters connectTimeoutMs
  timeoutMs maxConcurrency consecutiveFailures successCount failureCount successRate lastTriggeredAt
  deliveryStats { totalDeliveries successfulDeliveries failedDeliveries successRate avgResponseTimeMs p95ResponseTimeMs
  lastResponseTimeMs } createdAt updatedAt`

/** A page of 100 deliveries with every field of theirs, their attempts' and their webhook's. */
const FULL_PAGE = `deliveries(first: 100) { edges { cursor node { id event eventId status retryCount attemptCount
  nextRetryAt parked isTest payload integration completedAt createdAt lastAttemptAt webhookId
  attempts { id number responseCode responseTimeMs responseBody errorType errorMessage startedAt nextRetryAt
  requestHeaders } lastAttempt { id number responseCode } webhook { ${WEBHOOK_FIELDS} } } }
  pageInfo { hasNextPage endCursor } summary { successful failed pendingRetry } }`

function expectRefusal(result: GraphQLResponse, message: RegExp) {
  expect(result.data).toBeUndefined()
  expect(result.errors?.[0]).toMatchObject({
    message: expect.stringMatching(message),
    extensions: { code: 'BAD_USER_INPUT' },
  })
}

describe('document limits, before authentication', () => {
  it('refuses 5,000 aliases from an anonymous caller without parsing them all', async () => {
    const result = await t.gql(`{ ${repeat(5000, (i) => `a${i}: viewer { tenant }`)} }`, {}, null)
    expectRefusal(result, /Token limit of 5000 exceeded/)
  })

  it('refuses a 40-level introspection query from an anonymous caller', async () => {
    const result = await t.gql(deepIntrospection(40), {}, null)
    expectRefusal(result, /Query depth limit of 15 exceeded/)
  })

  it('refuses more aliases than the limit', async () => {
    const result = await t.gql(`{ ${repeat(QUERY_LIMITS.aliases + 1, (i) => `a${i}: viewer { tenant }`)} }`)
    expectRefusal(result, /Aliases limit of 30 exceeded/)
  })

  it('refuses more directives than the limit', async () => {
    const result = await t.gql(
      `{ ${repeat(QUERY_LIMITS.directives + 1, (i) => `a${i}: __typename @skip(if: false)`)} }`,
    )
    expectRefusal(result, /Directives limit of 30 exceeded/)
  })

  it('refuses a query over the cost limit', async () => {
    const result = await t.gql(`{ first: ${FULL_PAGE} second: ${FULL_PAGE} }`)
    expectRefusal(result, /Query Cost limit of 50000 exceeded/)
  })

  it('answers the same refusals over graphql-ws, and keeps the socket open', async () => {
    const client = t.ws('acme')
    // A refused document comes back as graphql-ws's `error` message: a list of errors.
    const firstError = (error: unknown) => (error as unknown[])[0]
    const aliases = await take(
      client,
      `{ ${repeat(QUERY_LIMITS.aliases + 1, (i) => `a${i}: viewer { tenant }`)} }`,
      1,
    ).catch(firstError)
    expect(aliases).toMatchObject({
      message: expect.stringMatching(/Aliases limit/),
      extensions: { code: 'BAD_USER_INPUT' },
    })
    const tokens = await take(client, `{ ${repeat(5000, (i) => `a${i}: viewer { tenant }`)} }`, 1).catch(firstError)
    expect(tokens).toMatchObject({
      message: expect.stringMatching(/Token limit/),
      extensions: { code: 'BAD_USER_INPUT' },
    })
    const ticks = await take<{ heartbeat: string }>(client, 'subscription { heartbeat(intervalMs: 100) }', 1)
    expect(ticks).toHaveLength(1)
  })

  it('lets our deepest and our costliest real queries through', async () => {
    const deepest = await t.gql(
      '{ deliveries(first: 1) { edges { node { webhook { retryPolicy { scheduleMs } deliveryStats { totalDeliveries } } } } } }',
    )
    expect(deepest.errors).toBeUndefined()
    const costliest = await t.gql(`{ ${FULL_PAGE} }`)
    expect(costliest.errors).toBeUndefined()
  })
})

describe('introspection', () => {
  it('answers GraphiQL’s introspection query to a caller with a token', async () => {
    const result = await t.gql(GRAPHIQL_INTROSPECTION, {}, 'acme')
    expect(result.errors).toBeUndefined()
    expect((result.data as { __schema: { queryType: { name: string } } }).__schema.queryType.name).toBe('Query')
  })

  it('refuses it without a token with UNAUTHENTICATED', async () => {
    const result = await t.gql(GRAPHIQL_INTROSPECTION, {}, null)
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
    const named = await t.gql('{ __type(name: "Webhook") { name } }', {}, null)
    expect(named.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })

  it('refuses it with FORBIDDEN to a token whose scope names neither read nor write', async () => {
    const asScope = async (scope: string, query: string) => {
      const response = await fetch(t.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await signToken(TEST_JWT_SECRET, 'acme', { scope })}`,
        },
        body: JSON.stringify({ query }),
      })
      return (await response.json()) as GraphQLResponse
    }
    for (const query of [GRAPHIQL_INTROSPECTION, '{ __type(name: "Webhook") { name } }']) {
      const result = await asScope('openid profile', query)
      expect(result.data ?? null).toBeNull()
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
      expect(result.errors?.[0]?.message).toMatch(/`read` scope/)
    }
    expect((await asScope('read', '{ __type(name: "Webhook") { name } }')).data).toEqual({
      __type: { name: 'Webhook' },
    })
  })

  it('hides field suggestions, which would tell the schema without introspection', async () => {
    const result = await t.gql('{ webhok(id: "x") { id } }', {}, null)
    expect(result.errors?.[0]?.message).toMatch(/Cannot query field "webhok"/)
    expect(result.errors?.[0]?.message).not.toMatch(/Did you mean/)
  })

  it('still answers __typename without a token', async () => {
    expect(await t.gql('{ __typename }', {}, null)).toEqual({ data: { __typename: 'Query' } })
  })
})
