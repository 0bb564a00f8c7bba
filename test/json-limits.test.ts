// JSON input nests at most MAX_JSON_DEPTH levels: deeper input gets BAD_USER_INPUT naming the field and the
// limit, from the JSON scalar (every JSON argument, as a variable or written in the document) and from
// publishing (every caller, GraphQL or not). Code that walks JSON by recursion (JSON.stringify, sift) never
// sees more, so it cannot overflow the stack.
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_JSON_DEPTH } from '../src/json-limits.ts'
import { createWebhook } from './helpers/api.ts'
import { type GraphQLResponse, useTestHub } from './helpers/hub.ts'

const t = useTestHub({ role: 'api', socket: false })

const TYPE = 'nesting.checked'
const PUBLISH =
  'mutation ($payload: JSON!) { publishEvent(input: { type: "nesting.checked", payload: $payload }) { deliveriesQueued } }'

beforeAll(() =>
  t.data('mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name } }', {
    input: { name: TYPE, category: 'test' },
  }),
)

/** JSON text of `levels` objects (or arrays), each holding the next: built as text, as JSON.stringify would overflow. */
const objects = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`
const arrays = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`

/** POST /graphql with variables given as JSON text. */
async function gqlWithJson(query: string, variablesJson: string): Promise<GraphQLResponse> {
  const response = await t.fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.token('tenant-a')}` },
    body: `{"query":${JSON.stringify(query)},"variables":${variablesJson}}`,
  })
  return (await response.json()) as GraphQLResponse
}
const publishJson = (payloadJson: string) => gqlWithJson(PUBLISH, `{"payload":${payloadJson}}`)

const refusal = {
  message: expect.stringContaining(`nests deeper than ${MAX_JSON_DEPTH} levels`),
  extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', limit: MAX_JSON_DEPTH }),
}

describe('a JSON argument', () => {
  it('is refused, not a server error, when a payload is 100,000 objects deep', async () => {
    const result = await publishJson(objects(100_000))
    expect(result.errors?.[0]).toMatchObject(refusal)
    expect(result.errors?.[0]?.message).toMatch(/\$payload/)
  })

  it('is refused when arrays nest 20,000 deep under a path a webhook filters on', async () => {
    await createWebhook(t, { url: 'http://127.0.0.1:9/', events: [TYPE], filters: { 'a.b': 1 } })
    const result = await publishJson(`{"a":${arrays(20_000)}}`)
    expect(result.errors?.[0]).toMatchObject(refusal)
  })

  it(`is accepted at ${MAX_JSON_DEPTH} levels and refused at ${MAX_JSON_DEPTH + 1}`, async () => {
    expect((await publishJson(objects(MAX_JSON_DEPTH))).errors).toBeUndefined()
    expect((await publishJson(objects(MAX_JSON_DEPTH + 1))).errors?.[0]).toMatchObject(refusal)
  })

  it('is refused when written in the document', async () => {
    const literal = `${'{ a: '.repeat(MAX_JSON_DEPTH + 1)}1${' }'.repeat(MAX_JSON_DEPTH + 1)}`
    const result = await t.gql(
      `mutation { publishEvent(input: { type: "${TYPE}", payload: ${literal} }) { deliveriesQueued } }`,
    )
    expect(result.errors?.[0]).toMatchObject(refusal)
  })

  it('bounds filters as it bounds payloads', async () => {
    const result = await gqlWithJson(
      'mutation ($filters: JSON) { createWebhook(input: { name: "deep", url: "http://127.0.0.1:9/", events: ["*"], filters: $filters }) { webhook { id } } }',
      `{"filters":{"a":{"$in":${arrays(20_000)}}}}`,
    )
    expect(result.errors?.[0]).toMatchObject(refusal)
  })
})
