// Any tenant may register a payload schema, and publishing checks payloads against it in the API process:
// every keyword and format costs time linear in the payload, `$ref`s are compiled once, and what a schema
// can still multiply stops at a time limit. Costs are compared with publishing the same payload to a type
// whose schema lacks the costly keyword (receiving, parsing and storing it is linear work): a generous
// ratio, never a wall-clock target.
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_REPORTED_PROBLEMS } from '../../src/events/catalog.ts'
import { canMultiply, MAX_FORMAT_INPUT_LENGTH, VALIDATION_TIME_LIMIT_MS } from '../../src/events/schema-validator.ts'
import type { GraphQLResponse } from '../helpers/hub.ts'
import { useTestHub } from '../helpers/hub.ts'

const t = useTestHub({ role: 'api', socket: false })

const REGISTER = 'mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name } }'
const PUBLISH = `mutation ($type: String!, $payload: JSON!) {
  publishEvent(input: { type: $type, payload: $payload }) { deliveriesQueued }
}`

/**
 * Linear work stays within a small multiple of the baseline, give or take a pause of a loaded machine; the
 * quadratic work it replaced took 24 (120 `url`s of 4 KB) to 500 times (60,000 unique items) the baseline.
 */
function expectLinear(costly: { ms: number }, baseline: { ms: number }) {
  expect(costly.ms).toBeLessThan(10 * baseline.ms + 100)
}

const register = (name: string, payloadSchema: object) =>
  t.gql(REGISTER, { input: { name, category: 'test', payloadSchema } })

const withProperty = (property: object) => ({ type: 'object', properties: { a: property } })

beforeAll(async () => {
  for (const [name, schema] of [
    ['any.items', withProperty({ type: 'array' })],
    ['unique.items', withProperty({ type: 'array', uniqueItems: true })],
    ['any.string', withProperty({ type: 'string' })],
    ['url.format', withProperty({ type: 'string', format: 'url' })],
    ['url.formats', withProperty({ type: 'array', items: { type: 'string', format: 'url' } })],
  ] as const) {
    expect((await register(name, schema)).errors).toBeUndefined()
  }
})

/** The quickest of three publishes of `payload` as `type`, in ms, and the answer to the last. */
async function quickest(type: string, payload: unknown): Promise<{ ms: number; result: GraphQLResponse }> {
  let ms = Number.POSITIVE_INFINITY
  let result: GraphQLResponse = {}
  for (let run = 0; run < 3; run++) {
    const started = performance.now()
    result = await t.gql(PUBLISH, { type, payload })
    ms = Math.min(ms, performance.now() - started)
  }
  return { ms, result }
}

const problems = (result: GraphQLResponse) => result.errors?.[0]?.extensions?.validationErrors

describe('uniqueItems', () => {
  it('checks 60,000 items in time linear in them', { timeout: 120_000 }, async () => {
    const payload = { a: Array.from({ length: 60_000 }, (_, index) => [index]) }
    const baseline = await quickest('any.items', payload)
    const unique = await quickest('unique.items', payload)
    expect(unique.result.errors).toBeUndefined()
    expectLinear(unique, baseline)
  })

  it('finds equal items, whatever the order of their keys', async () => {
    const result = await t.gql(PUBLISH, {
      type: 'unique.items',
      payload: { a: [[1], { x: 1, y: [2, { z: null }] }, 'x', { y: [2, { z: null }], x: 1 }, 1, '1'] },
    })
    expect(problems(result)).toEqual([
      { path: '/a', message: 'must NOT have duplicate items (items ## 1 and 3 are identical)' },
    ])
  })
})

describe('formats', () => {
  // ajv-formats' `url` expression takes time quadratic in this value: 3.4 s at 128k characters.
  const stalling = (length: number) => `http://a${':a'.repeat((length - 10) / 2)}@ `

  it('checks a long `url` in time linear in it', { timeout: 60_000 }, async () => {
    const payload = { a: stalling(128_000) }
    const baseline = await quickest('any.string', payload)
    const url = await quickest('url.format', payload)
    expect(problems(url.result)).toEqual([{ path: '/a', message: 'must match format "url"' }])
    expectLinear(url, baseline)
  })

  it(`checks many \`url\`s of ${MAX_FORMAT_INPUT_LENGTH} characters in time linear in them`, async () => {
    const payload = { a: Array.from({ length: 120 }, () => stalling(MAX_FORMAT_INPUT_LENGTH)) }
    const baseline = await quickest('any.items', payload)
    const urls = await quickest('url.formats', payload)
    expect(problems(urls.result)).toHaveLength(MAX_REPORTED_PROBLEMS)
    expectLinear(urls, baseline)
  })

  it(`keeps ajv-formats' formats, on strings of at most ${MAX_FORMAT_INPUT_LENGTH} characters`, async () => {
    const valid = {
      date: '2024-02-29',
      'date-time': '2024-02-29T12:30:00Z',
      time: '12:30:00+01:00',
      duration: 'P1DT2H',
      uri: 'urn:isbn:0451450523',
      'uri-reference': '../a?b#c',
      url: 'https://example.com/a?b=c',
      email: 'ada@example.com',
      hostname: 'example.com',
      ipv4: '192.0.2.1',
      ipv6: '2001:db8::1',
      uuid: '0190a8f0-0000-7000-8000-000000000000',
      'json-pointer': '/a/b~1c',
      regex: '^a+$',
      byte: 'aGk=',
    }
    const formats = Object.keys(valid)
    const schema = {
      type: 'object',
      properties: Object.fromEntries(formats.map((format) => [format, { type: 'string', format }])),
    }
    expect((await register('formats.kept', schema)).errors).toBeUndefined()
    expect((await t.gql(PUBLISH, { type: 'formats.kept', payload: valid })).errors).toBeUndefined()

    const invalid = Object.fromEntries(formats.map((format) => [format, 'not valid here: [']))
    const refused = await t.gql(PUBLISH, {
      type: 'formats.kept',
      payload: { ...invalid, url: 'mailto:ada@example.com' },
    })
    expect(problems(refused)).toHaveLength(formats.length)
    expect(problems(refused)).toEqual(
      expect.arrayContaining(
        formats.map((format) => ({ path: `/${format}`, message: `must match format "${format}"` })),
      ),
    )

    const long = `https://example.com/${'a'.repeat(MAX_FORMAT_INPUT_LENGTH)}`
    expect(problems(await t.gql(PUBLISH, { type: 'formats.kept', payload: { url: long } }))).toEqual([
      { path: '/url', message: 'must match format "url"' },
    ])
  })
})

describe('$ref', () => {
  /** `levels` objects, each holding the next under `x`. */
  const nested = (levels: number) => {
    let value: object = {}
    for (let level = 0; level < levels; level++) value = { x: value }
    return value
  }

  it('stops a schema that multiplies its work at the time limit', async () => {
    // Both branches check `x` against the whole schema again: 2^23 checks for 23 levels, half a minute of
    // work, and gigabytes of errors kept (every error is kept, to report them).
    const branch = (required: string) => ({ type: 'object', properties: { x: { $ref: '#' } }, required: [required] })
    expect((await register('twice.per.level', { anyOf: [branch('y'), branch('z')] })).errors).toBeUndefined()
    const result = await t.gql(PUBLISH, { type: 'twice.per.level', payload: nested(23) })
    expect(result.errors?.[0]).toMatchObject({
      message: `checking the payload against the twice.per.level schema took longer than ${VALIDATION_TIME_LIMIT_MS} ms; simplify the schema`,
      extensions: { code: 'BAD_USER_INPUT', field: 'payload' },
    })
  })

  it('refuses a payload, not the server, when the schema refers to itself without end', async () => {
    expect((await register('endless.ref', { $ref: '#' })).errors).toBeUndefined()
    const result = await t.gql(PUBLISH, { type: 'endless.ref', payload: {} })
    expect(result.errors?.[0]).toMatchObject({
      message: 'the endless.ref schema refers to itself without end',
      extensions: { code: 'BAD_USER_INPUT', field: 'payload' },
    })
  })
})

describe('the time limit', () => {
  it('watches only schemas that can multiply their work: references, combinations, long enums', () => {
    const plain = {
      type: 'object',
      required: ['order_id'],
      properties: {
        order_id: { type: 'string', pattern: '^ORD-' },
        items: { type: 'array', items: { type: 'number' } },
      },
    }
    expect(canMultiply(plain)).toBe(false)
    expect(canMultiply({ ...plain, properties: { a: { enum: ['x', 'y'] } } })).toBe(false)
    expect(canMultiply({ ...plain, properties: { a: { $ref: '#/$defs/a' } } })).toBe(true)
    expect(canMultiply({ items: [{ anyOf: [{ type: 'string' }, { type: 'number' }] }] })).toBe(true)
    expect(canMultiply({ properties: { a: { not: { type: 'null' } } } })).toBe(true)
    expect(canMultiply({ enum: Array.from({ length: 100 }, (_, i) => i) })).toBe(true)
  })
})

describe('compiling', () => {
  it('compiles a definition once, however often it is referred to', async () => {
    // Inlined at each of its 1,000 uses, this 46 KB schema compiled to gigabytes of code.
    const definition = {
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`p${index}`, { type: 'string' }])),
    }
    const schema = { $defs: { a: definition }, allOf: Array.from({ length: 1000 }, () => ({ $ref: '#/$defs/a' })) }
    expect((await register('shared.definition', schema)).errors).toBeUndefined()
    // Each of the 1,000 uses finds `p1` is not a string; the error reports the first MAX_REPORTED_PROBLEMS.
    const refused = await t.gql(PUBLISH, { type: 'shared.definition', payload: { p1: 1 } })
    expect(problems(refused)).toHaveLength(MAX_REPORTED_PROBLEMS)
  })

  it('refuses a schema too complex to compile, not the server', async () => {
    // ajv's code generator recurses once per branch, and overflows its stack on a few thousand of them (how
    // many depends on how far the JIT has optimized it): a refusal, or a schema that compiled, never a crash.
    const schema = { type: 'array', items: { anyOf: Array.from({ length: 4000 }, (_, index) => ({ const: index })) } }
    const { errors } = await register('many.branches', schema)
    for (const error of errors ?? []) {
      expect(error).toMatchObject({
        message: 'payloadSchema is too complex to compile; use fewer subschemas',
        extensions: { code: 'BAD_USER_INPUT', field: 'payloadSchema' },
      })
    }
  })
})
