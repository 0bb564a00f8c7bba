// The contract every connector must pass, against its fake provider over real HTTP: a declared identity,
// a config schema that accepts its example and refuses what is missing or mistyped, secret fields that
// masking hides, test() and deliver() that reach the provider, and failures classified the same way by
// every connector (5xx and 429 retryable, other 4xx not, refused connections and timeouts retryable); and
// every call on the hub's one road out: no private address (by name, by redirect or as a literal) and no
// redirect at all is reached, answers are capped (after decompression: a provider may compress though asked
// not to) and the dispatcher's own timeouts are reported as such.
import { brotliCompressSync, gzipSync } from 'node:zlib'
import type { Agent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { findConnector } from '../../connectors/registry.ts'
import type { Connector, HubEvent } from '../../connectors/types.ts'
import { MAX_RESPONSE_BYTES } from '../../src/delivery/outbound.ts'
import { EVENT_TYPE_NAME } from '../../src/events/catalog.ts'
import { isValidPattern } from '../../src/events/matching.ts'
import { maskConfig } from '../../src/integrations/stored-config.ts'
import { type FakeProvider, failureOf, type Receiver, startRedirector, testContext, testDispatcher } from './kit.ts'

export interface ContractOptions<Config> {
  startFake(): Promise<FakeProvider<Config>>
  /** An event the connector acts on by calling its provider. */
  event: HubEvent
}

/** Answers a few kilobytes long on the wire that decode to 16 times the hub's cap, by content coding. */
const BOMBS: Array<[coding: string, body: Buffer]> = (() => {
  const decoded = Buffer.alloc(16 * MAX_RESPONSE_BYTES, '[')
  return [
    ['gzip', gzipSync(decoded)],
    ['br', brotliCompressSync(decoded)],
  ]
})()

export function connectorContract<Config extends Record<string, unknown>>(
  connector: Connector<Config>,
  options: ContractOptions<Config>,
): void {
  describe(`the connector contract: ${connector.name}`, () => {
    let fake: FakeProvider<Config>
    beforeEach(async () => {
      fake = await options.startFake()
    })
    afterEach(() => fake.close())

    it('is installed in the registry under its name', () => {
      expect(findConnector(connector.name)).toBe(connector)
      expect(connector.name).toMatch(/^[a-z][a-z0-9_-]*$/)
    })

    it('declares who it is and which events it wants by default', () => {
      expect(connector.displayName.length).toBeGreaterThan(0)
      expect(connector.description.length).toBeGreaterThan(0)
      expect(connector.category).toMatch(/^[a-z]+$/)
      expect(connector.defaultEvents.length).toBeGreaterThan(0)
      for (const pattern of connector.defaultEvents) expect(isValidPattern(pattern)).toBe(true)
    })

    it('declares its config fields with types, descriptions and secrets', () => {
      const fields = connector.configFields
      expect(fields.length).toBeGreaterThan(0)
      for (const field of fields) {
        expect(field.description, `${field.name} has a description`).not.toBe('')
        expect(['string', 'url', 'number', 'boolean', 'enum', 'json']).toContain(field.type)
      }
      expect(fields.some((field) => field.secret)).toBe(true)
    })

    it('accepts its example config and the fake’s', () => {
      expect(connector.configSchema.safeParse(connector.exampleConfig).success).toBe(true)
      expect(connector.configSchema.safeParse(fake.config).success).toBe(true)
      expect(connector.checkConfig(connector.exampleConfig)).toMatchObject({
        ok: true,
        config: connector.exampleConfig,
      })
    })

    it('refuses a config missing a required field, or with a field of the wrong type', () => {
      const fields = connector.configFields
      for (const field of fields.filter((f) => f.required)) {
        const { [field.name]: _removed, ...rest } = connector.exampleConfig
        expect(connector.configSchema.safeParse(rest).success, `without ${field.name}`).toBe(false)
        expect(connector.checkConfig(rest)).toMatchObject({ ok: false, issues: [{ path: field.name }] })
      }
      for (const field of fields.filter((f) => f.type !== 'json')) {
        const wrong = { ...connector.exampleConfig, [field.name]: { not: 'this' } }
        expect(connector.configSchema.safeParse(wrong).success, `${field.name} as an object`).toBe(false)
      }
    })

    it('masks every secret field, each of which its example config holds', () => {
      const config = connector.exampleConfig
      const masked = maskConfig(connector, config)
      const secrets = connector.configFields.filter((field) => field.secret)
      expect(secrets.length).toBeGreaterThan(0)
      for (const field of secrets) {
        const value = config[field.name]
        expect(typeof value, `exampleConfig holds the secret field ${field.name}`).toBe('string')
        expect(masked[field.name], `${field.name} is masked`).not.toBe(value)
        expect(JSON.stringify(masked)).not.toContain(value)
      }
    })

    if (connector.receivesInbound) {
      it('declares the hub event types its inbound publishes, with their payloads', () => {
        expect(connector.inboundEventTypes.length).toBeGreaterThan(0)
        for (const type of connector.inboundEventTypes) {
          expect(type.name).toMatch(EVENT_TYPE_NAME)
          expect(type.description.length).toBeGreaterThan(0)
          expect(type.category).toMatch(/^[a-z]+$/)
          expect(type.payloadSchema).toMatchObject({ type: 'object' })
          expect(Object.keys(type.examplePayload).length).toBeGreaterThan(0)
        }
      })
    }

    it('passes test() against its fake provider', async () => {
      const result = await connector.test(fake.config, testContext())
      expect(result.message.length).toBeGreaterThan(0)
      expect(fake.requests.length).toBeGreaterThan(0)
    })

    it('delivers an event to its fake provider', async () => {
      const result = await connector.deliver(options.event, fake.config, testContext())
      expect(result.message.length).toBeGreaterThan(0)
      expect(fake.requests.length).toBeGreaterThan(0)
    })

    it('reports a 5xx as a retryable HTTP_5XX', async () => {
      fake.fail({ status: 503, body: '{"message":"down for maintenance"}' })
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext()))
      expect(error).toMatchObject({ errorType: 'HTTP_5XX', retryable: true, responseCode: 503 })
    })

    it('reports a 429 as retryable, keeping Retry-After', async () => {
      fake.fail({ status: 429, body: '{"message":"slow down"}', headers: { 'retry-after': '7' } })
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext()))
      expect(error).toMatchObject({ errorType: 'HTTP_4XX', retryable: true, responseCode: 429, retryAfterMs: 7000 })
    })

    it('reports a 401 as an HTTP_4XX that retrying cannot fix', async () => {
      fake.fail({ status: 401, body: '{"message":"invalid credentials"}' })
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext()))
      expect(error).toMatchObject({ errorType: 'HTTP_4XX', retryable: false, responseCode: 401 })
    })

    it('reports a refused connection as a retryable CONNECTION_ERROR', async () => {
      await fake.close()
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext()))
      expect(error).toMatchObject({ errorType: 'CONNECTION_ERROR', retryable: true })
    })

    it('reports a provider that does not answer in time as a retryable TIMEOUT, within the deadline', async () => {
      fake.fail('hang')
      const started = Date.now()
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext({ timeoutMs: 300 })))
      expect(error).toMatchObject({ errorType: 'TIMEOUT', retryable: true })
      expect(Date.now() - started).toBeLessThan(3000)
    })
  })

  describe(`the one road out: ${connector.name}`, () => {
    let fake: FakeProvider<Config>
    let redirector: Receiver
    const agents: Agent[] = []
    const dispatcher = (options: Parameters<typeof testDispatcher>[0]) => {
      const agent = testDispatcher(options)
      agents.push(agent)
      return agent
    }
    beforeEach(async () => {
      fake = await options.startFake()
      // Following its 307 would reach the fake.
      redirector = await startRedirector(fake.url)
    })
    afterEach(async () => {
      await Promise.all([fake.close(), redirector.close(), ...agents.splice(0).map((agent) => agent.destroy())])
    })
    const redirectorOrigin = () => new URL(redirector.url).origin
    const redirectorOnly = (address: string, port: number) =>
      address === '127.0.0.1' && port === Number(new URL(redirector.url).port)

    it('refuses a provider whose name resolves to a private address, as SSRF_BLOCKED', async () => {
      const config = fake.configAt(fake.url.replace('127.0.0.1', 'localhost'))
      const ctx = testContext({ dispatcher: dispatcher({}) })
      const error = await failureOf(connector.deliver(options.event, config, ctx))
      expect(error).toMatchObject({ errorType: 'SSRF_BLOCKED', retryable: true })
      expect(error.message).toMatch(/^localhost resolves to .*, a private or reserved address$/)
      expect(fake.requests).toHaveLength(0)
    })

    it('refuses a literal private address, as SSRF_BLOCKED', async () => {
      const ctx = testContext({ dispatcher: dispatcher({}) })
      const error = await failureOf(connector.deliver(options.event, fake.config, ctx))
      expect(error).toMatchObject({ errorType: 'SSRF_BLOCKED', retryable: true })
      expect(error.message).toBe('the URL names 127.0.0.1, a private or reserved address')
      expect(fake.requests).toHaveLength(0)
    })

    it('refuses a redirect to a private address: the redirect is the answer', async () => {
      const ctx = testContext({ dispatcher: dispatcher({ allows: redirectorOnly }) })
      const error = await failureOf(connector.deliver(options.event, fake.configAt(redirectorOrigin()), ctx))
      expect(error).toMatchObject({ errorType: 'INVALID_RESPONSE', retryable: false, responseCode: 307 })
      expect(error.message).toBe('HTTP 307: redirects are not followed; use the final URL')
      expect(redirector.requests.length).toBeGreaterThan(0)
      expect(fake.requests).toHaveLength(0)
    })

    it('never follows a redirect, even to an address it may reach', async () => {
      const ctx = testContext({ dispatcher: dispatcher({ allows: null }) })
      const error = await failureOf(connector.deliver(options.event, fake.configAt(redirectorOrigin()), ctx))
      expect(error).toMatchObject({ errorType: 'INVALID_RESPONSE', retryable: false, responseCode: 307 })
      expect(fake.requests).toHaveLength(0)
    })

    it('stops reading an answer larger than the dispatcher’s cap', async () => {
      fake.fail({ status: 200, body: 'x'.repeat(64 * 1024), headers: { 'content-type': 'application/json' } })
      const ctx = testContext({ dispatcher: dispatcher({ allows: null, maxResponseBytes: 4096 }) })
      const error = await failureOf(connector.deliver(options.event, fake.config, ctx))
      expect(error).toMatchObject({ errorType: 'INVALID_RESPONSE' })
    })

    it('asks for an answer that is not compressed', async () => {
      await connector.deliver(options.event, fake.config, testContext())
      expect(fake.requests.length).toBeGreaterThan(0)
      for (const request of fake.requests) expect(request.headers['accept-encoding']).toBe('identity')
    })

    it.each(['gzip', 'br'] as const)('reads an answer compressed with %s though it asked for none', async (coding) => {
      const compressing = await options.startFake()
      try {
        compressing.compressAnswers(coding)
        const result = await connector.deliver(options.event, compressing.config, testContext())
        expect(result).toEqual(await connector.deliver(options.event, fake.config, testContext()))
        expect(compressing.requests.length).toBeGreaterThan(0)
      } finally {
        await compressing.close()
      }
    })

    it.each(BOMBS)('stops decoding a %s answer at the cap, as INVALID_RESPONSE', async (coding, body) => {
      expect(body.length).toBeLessThan(MAX_RESPONSE_BYTES / 32)
      fake.fail({ status: 200, body, headers: { 'content-type': 'application/json', 'content-encoding': coding } })
      const error = await failureOf(connector.deliver(options.event, fake.config, testContext()))
      expect(error).toMatchObject({
        errorType: 'INVALID_RESPONSE',
        message: 'the answer is larger than the hub reads',
      })
    })

    it('reports the dispatcher’s headers timeout as a retryable TIMEOUT, before the call’s own deadline', async () => {
      fake.fail('hang')
      const ctx = testContext({ dispatcher: dispatcher({ allows: null, headersTimeoutMs: 200 }), timeoutMs: 60_000 })
      const error = await failureOf(connector.deliver(options.event, fake.config, ctx))
      expect(error).toMatchObject({ errorType: 'TIMEOUT', retryable: true })
      expect(ctx.signal.aborted).toBe(false)
    })
  })
}
