// Tenants' regular expressions run on RE2 (filters' $regex, payload schemas' pattern and
// patternProperties), so none can stall the process; $regex reads a bounded length of each string.
// `^(a|a)*$` on 34 or more characters ending in a mismatch backtracks for about a minute on V8.
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_REGEX_INPUT_LENGTH } from '../../src/events/regex.ts'
import { MAX_SHOWN_VALUE_LENGTH } from '../../src/webhooks/explain.ts'
import { createWebhook, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'

const t = useTestHub({ role: 'api', socket: false })

const EVIL = '^(a|a)*$'
const STALLING_INPUT = `${'a'.repeat(40)}!`

const EXPLAIN = `query ($id: ID!, $type: String, $payload: JSON) {
  explainWebhookMatch(webhookId: $id, type: $type, payload: $payload) { matches conditions { passed actual } reasons }
}`

const CREATE = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }'
const REGISTER = 'mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name } }'

/** A type with no payload schema, so that any payload can be published. */
const TYPE = 'bounds.checked'
beforeAll(() => t.data(REGISTER, { input: { name: TYPE, category: 'test' } }))

const explain = async (id: string, payload: unknown) =>
  (await t.data(EXPLAIN, { id, type: TYPE, payload })).explainWebhookMatch

describe('filters', () => {
  it('runs a pattern that backtracks exponentially on V8 in linear time', async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', filters: { name: { $regex: EVIL } } })
    expect((await explain(hook.id, { name: STALLING_INPUT })).matches).toBe(false)
    expect((await explain(hook.id, { name: 'a'.repeat(40) })).matches).toBe(true)
    // Publishing matches the same filter, in the request.
    expect((await publish(t, TYPE, { name: STALLING_INPUT })).deliveriesQueued).toBe(0)
  })

  it('refuses lookahead and backreferences when the webhook is created, saying why', async () => {
    for (const pattern of ['^(?=a)', '(a)\\1']) {
      const result = await t.gql(CREATE, {
        input: { name: 'x', url: 'http://127.0.0.1:9/', events: ['*'], filters: { name: { $regex: pattern } } },
      })
      expect(result.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/filters\.name\.\$regex is not supported by RE2, which has no lookahead/),
        extensions: { code: 'BAD_USER_INPUT', field: 'filters' },
      })
    }
  })

  it('keeps JavaScript syntax and the i, m, s flags', async () => {
    const hook = await createWebhook(t, {
      url: 'http://127.0.0.1:9/',
      filters: { name: { $regex: '^\\u0041(?<rest>b+)$', $options: 'i' } },
    })
    expect((await explain(hook.id, { name: 'aBB' })).matches).toBe(true)
    expect((await explain(hook.id, { name: 'aBc' })).matches).toBe(false)
  })

  it(`never matches $regex on a string longer than ${MAX_REGEX_INPUT_LENGTH} characters`, async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', filters: { note: { $regex: '^a' } } })
    expect((await explain(hook.id, { note: 'a'.repeat(MAX_REGEX_INPUT_LENGTH) })).matches).toBe(true)
    expect((await explain(hook.id, { note: 'a'.repeat(MAX_REGEX_INPUT_LENGTH + 1) })).matches).toBe(false)
  })

  it('refuses a pattern that compiles to too large a program', async () => {
    const result = await t.gql(CREATE, {
      input: { name: 'x', url: 'http://127.0.0.1:9/', events: ['*'], filters: { name: { $regex: '^.{1,255}$' } } },
    })
    expect(result.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/filters\.name\.\$regex is too complex/),
      extensions: { code: 'BAD_USER_INPUT', field: 'filters' },
    })
  })

  it('refuses filters that test more than 50 payload paths', async () => {
    const filters = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`field${i}`, i]))
    const result = await t.gql(CREATE, { input: { name: 'x', url: 'http://127.0.0.1:9/', events: ['*'], filters } })
    expect(result.errors?.[0]).toMatchObject({
      message: 'filters may test at most 50 payload paths',
      extensions: { code: 'BAD_USER_INPUT', field: 'filters' },
    })
  })
})

describe('explainWebhookMatch', () => {
  it(`shows at most ${MAX_SHOWN_VALUE_LENGTH} characters of a payload value`, async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', filters: { note: 'short' } })
    const long = 'x'.repeat(100_000)
    const explanation = await explain(hook.id, { note: long })
    expect(explanation.conditions[0].actual).toBe(`${'x'.repeat(MAX_SHOWN_VALUE_LENGTH)}…`)
    expect(explanation.reasons.join('\n').length).toBeLessThan(4 * MAX_SHOWN_VALUE_LENGTH)
  })

  it('refuses a type that is not an event type', async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/' })
    const result = await t.gql(EXPLAIN, { id: hook.id, type: 'x'.repeat(10_000), payload: {} })
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'type' })
  })
})

describe('payload schemas', () => {
  const schemaWith = (keywords: Record<string, unknown>) => ({
    type: 'object',
    properties: { name: { type: 'string', ...keywords } },
  })

  it('validates `pattern` on RE2', async () => {
    await t.data(REGISTER, {
      input: { name: 'evil.pattern', category: 'test', payloadSchema: schemaWith({ pattern: EVIL }) },
    })
    const result = await t.gql(
      'mutation ($payload: JSON!) { publishEvent(input: { type: "evil.pattern", payload: $payload }) { deliveriesQueued } }',
      { payload: { name: STALLING_INPUT } },
    )
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect((await publish(t, 'evil.pattern', { name: 'aaaa' })).duplicate).toBe(false)
  })

  it(`fails \`pattern\` on a string longer than ${MAX_REGEX_INPUT_LENGTH} characters`, async () => {
    await t.data(REGISTER, {
      input: { name: 'long.pattern', category: 'test', payloadSchema: schemaWith({ pattern: '^a+$' }) },
    })
    await publish(t, 'long.pattern', { name: 'a'.repeat(MAX_REGEX_INPUT_LENGTH) })
    const result = await t.gql(
      'mutation ($payload: JSON!) { publishEvent(input: { type: "long.pattern", payload: $payload }) { deliveriesQueued } }',
      { payload: { name: 'a'.repeat(MAX_REGEX_INPUT_LENGTH + 1) } },
    )
    expect(result.errors?.[0]?.extensions?.validationErrors).toEqual([
      { path: '/name', message: 'must match pattern "^a+$"' },
    ])
  })

  it('validates `patternProperties` on RE2', async () => {
    await t.data(REGISTER, {
      input: {
        name: 'evil.keys',
        category: 'test',
        payloadSchema: { type: 'object', patternProperties: { [EVIL]: { type: 'number' } } },
      },
    })
    const result = await t.gql(
      'mutation ($payload: JSON!) { publishEvent(input: { type: "evil.keys", payload: $payload }) { deliveriesQueued } }',
      { payload: { [STALLING_INPUT]: 'not checked', aaaa: 'a string where a number belongs' } },
    )
    expect(result.errors?.[0]?.extensions?.validationErrors).toEqual([{ path: '/aaaa', message: 'must be number' }])
  })

  it('refuses a schema whose pattern RE2 cannot run, when it is registered', async () => {
    const result = await t.gql(REGISTER, {
      input: { name: 'lookahead.pattern', category: 'test', payloadSchema: schemaWith({ pattern: '^(?!admin)' }) },
    })
    expect(result.errors?.[0]).toMatchObject({
      message: expect.stringMatching(
        /^payloadSchema has a pattern that is not supported by RE2, which has no lookahead/,
      ),
      extensions: { code: 'BAD_USER_INPUT', field: 'payloadSchema' },
    })
  })
})
