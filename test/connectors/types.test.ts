// The contract's own machinery, without a provider: config fields read from a schema, and what
// defineConnector gives the hub (a config checked before any call, its URLs, its templates).
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { connectors } from '../../connectors/registry.ts'
import { defineConnector, secret } from '../../connectors/types.ts'
import { builtInEventTypes } from '../../src/events/built-in-types.ts'
import { hubEvent, testContext } from './kit.ts'

const fieldsOf = (shape: z.ZodRawShape) => defineConnector({ ...example, configSchema: z.object(shape) }).configFields

const example = defineConnector({
  name: 'example',
  displayName: 'Example',
  description: 'A connector for these tests',
  category: 'automation',
  configSchema: z.object({
    endpoint: z.url().describe('Where events go'),
    mirrors: z.string().optional().describe('More endpoints, comma-separated'),
    token: secret(z.string().min(4)).describe('The token'),
    greeting: z.string().default('hello {{event.type}}').describe('A template'),
  }),
  defaultEvents: ['*'],
  exampleConfig: { endpoint: 'https://example.com/in', token: 'abcd', greeting: 'hi' },
  urlFields: (config) => ({ mirrors: config.mirrors?.split(',') }),
  templates: (config) => [config.greeting],
  test: async (config) => ({ message: `test with ${config.token}` }),
  deliver: async (event, config, ctx) => ({ message: `${ctx.render(config.greeting, event)} at ${config.endpoint}` }),
})

describe('config fields', () => {
  it('are read from the schema: type, required, secret and description', () => {
    expect(example.configFields).toEqual([
      { name: 'endpoint', type: 'url', required: true, secret: false, description: 'Where events go' },
      {
        name: 'mirrors',
        type: 'string',
        required: false,
        secret: false,
        description: 'More endpoints, comma-separated',
      },
      { name: 'token', type: 'string', required: true, secret: true, description: 'The token' },
      { name: 'greeting', type: 'string', required: false, secret: false, description: 'A template' },
    ])
  })

  it('name numbers, booleans and enums, and everything else json', () => {
    const types = fieldsOf({
      count: z.int(),
      ratio: z.number(),
      on: z.boolean(),
      mode: z.enum(['a', 'b']),
      list: z.array(z.string()),
      map: z.record(z.string(), z.string()),
      when: z.date(),
    }).map((field) => [field.name, field.type])
    expect(Object.fromEntries(types)).toEqual({
      count: 'number',
      ratio: 'number',
      on: 'boolean',
      mode: 'enum',
      list: 'json',
      map: 'json',
      when: 'json',
    })
  })

  it('count a nullable, optional or defaulted field as not required, keeping its type and marks', () => {
    const fields = fieldsOf({
      a: z.string().nullable().describe('a'),
      b: secret(z.url()).nullable().describe('b'),
      c: z.enum(['x', 'y']).nullable(),
      d: z.number().default(3),
      e: secret(z.string()).optional().describe('e'),
    })
    expect(fields).toEqual([
      { name: 'a', type: 'string', required: false, secret: false, description: 'a' },
      { name: 'b', type: 'url', required: false, secret: true, description: 'b' },
      { name: 'c', type: 'enum', required: false, secret: false, description: '' },
      { name: 'd', type: 'number', required: false, secret: false, description: '' },
      { name: 'e', type: 'string', required: false, secret: true, description: 'e' },
    ])
  })
})

describe('a config checked by its connector', () => {
  it('is refused with each issue’s path and message', () => {
    expect(example.checkConfig({ endpoint: 'nope', token: 'x' })).toEqual({
      ok: false,
      issues: [
        { path: 'endpoint', message: 'Invalid URL' },
        { path: 'token', message: 'Too small: expected string to have >=4 characters' },
      ],
    })
    expect(example.checkConfig('not an object')).toMatchObject({ ok: false, issues: [{ path: '' }] })
  })

  it('once accepted, comes parsed, with the calls bound to it', async () => {
    const check = example.checkConfig({ endpoint: 'https://example.com/in', token: 'abcd' })
    if (!check.ok) throw new Error('the config was refused')
    expect(check.config).toEqual({
      endpoint: 'https://example.com/in',
      token: 'abcd',
      greeting: 'hello {{event.type}}',
    })
    expect(check.calls.templates()).toEqual(['hello {{event.type}}'])
    expect(await check.calls.test(testContext())).toEqual({ message: 'test with abcd' })
    expect(await check.calls.deliver(hubEvent('order.created', {}), testContext())).toEqual({
      message: 'hello order.created at https://example.com/in',
    })
    expect(check.calls.inbound).toBeNull()
    expect(example.receivesInbound).toBe(false)
  })

  it('holds the URLs of its z.url() fields and those its urlFields reads', () => {
    const check = example.checkConfig({
      endpoint: 'https://example.com/in',
      mirrors: 'https://a.example.com,http://10.0.0.1',
      token: 'abcd',
    })
    expect(check.ok && check.calls.urls()).toEqual([
      { field: 'endpoint', url: 'https://example.com/in' },
      { field: 'mirrors', url: 'https://a.example.com' },
      { field: 'mirrors', url: 'http://10.0.0.1' },
    ])
  })
})

describe('the installed connectors', () => {
  it('have distinct names', () => {
    const names = connectors.map((connector) => connector.name)
    expect(new Set(names).size).toBe(names.length)
  })

  it('declare inbound event types the catalog can take beside its own', () => {
    const declared = connectors.flatMap((connector) => connector.inboundEventTypes)
    expect(declared.map((type) => type.name)).toEqual(['payment.succeeded', 'payment.failed', 'payment.refunded'])
    expect(builtInEventTypes(declared).map((type) => type.name)).toEqual(
      expect.arrayContaining(['order.created', ...declared.map((type) => type.name)]),
    )
    expect(() => builtInEventTypes([...declared, ...declared.slice(0, 1)])).toThrow(
      'the event type payment.succeeded is declared twice',
    )
    const clashing = declared.slice(0, 1).map((type) => ({ ...type, name: 'order.created' }))
    expect(() => builtInEventTypes(clashing)).toThrow('the event type order.created is declared twice')
  })
})
