import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import algolia from '../../connectors/algolia/index.ts'
import { startReceiver } from '../helpers/receiver.ts'
import { startFakeAlgolia } from './algolia/fake.ts'
import { connectorContract } from './contract.ts'
import { failureOf, hubEvent, testContext } from './kit.ts'

const entry = (type: string, fields: Record<string, unknown> = {}) =>
  hubEvent(type, {
    model: 'article',
    entry: { id: 1, documentId: 'abc123', title: 'Hello', author: { name: 'Ann' }, ...fields },
  })

connectorContract(algolia, { startFake: startFakeAlgolia, event: entry('entry.create') })

describe('algolia', () => {
  let fake: Awaited<ReturnType<typeof startFakeAlgolia>>
  beforeEach(async () => {
    fake = await startFakeAlgolia()
  })
  afterEach(() => fake.close())

  it('saves an entry under its documentId, and deletes it on entry.delete and entry.unpublish', async () => {
    expect((await algolia.deliver(entry('entry.create'), fake.config, testContext())).message).toBe(
      'Saved abc123 to articles',
    )
    expect(fake.indices.get('articles')?.get('abc123')).toEqual({
      objectID: 'abc123',
      id: 1,
      documentId: 'abc123',
      title: 'Hello',
      author: { name: 'Ann' },
      model: 'article',
    })
    await algolia.deliver(entry('entry.delete'), fake.config, testContext())
    expect(fake.indices.get('articles')?.has('abc123')).toBe(false)
    await algolia.deliver(entry('entry.publish'), fake.config, testContext())
    await algolia.deliver(entry('entry.unpublish'), fake.config, testContext())
    expect(fake.indices.get('articles')?.size).toBe(0)
  })

  it('applies the attribute mapping, and indexes orders by order_id', async () => {
    const config = {
      ...fake.config,
      attributes: { headline: 'entry.title', writer: 'entry.author.name', missing: 'entry.nope' },
    }
    await algolia.deliver(entry('entry.update'), config, testContext())
    expect(fake.indices.get('articles')?.get('abc123')).toEqual({
      objectID: 'abc123',
      headline: 'Hello',
      writer: 'Ann',
      missing: null,
    })
    await algolia.deliver(hubEvent('order.created', { order_id: 'ORD-5', amount: 10 }), fake.config, testContext())
    expect(fake.indices.get('articles')?.get('ORD-5')).toEqual({ objectID: 'ORD-5', order_id: 'ORD-5', amount: 10 })
  })

  it('moves on to the next host when one fails, as Algolia’s retry strategy does', async () => {
    const broken = await startReceiver(() => ({ status: 502, body: 'bad gateway' }))
    try {
      const config = { ...fake.config, api_base_url: `${new URL(broken.url).origin},${fake.url}` }
      expect((await algolia.deliver(entry('entry.create'), config, testContext())).message).toBe(
        'Saved abc123 to articles',
      )
      expect(broken.requests).toHaveLength(1)
      expect(fake.requests).toHaveLength(1)
    } finally {
      await broken.close()
    }
  })

  it('says an index that does not exist yet is fine, and a bad key is not', async () => {
    expect((await algolia.test(fake.config, testContext())).message).toBe(
      'Connected; index articles will be created by the first event',
    )
    const error = await failureOf(algolia.test({ ...fake.config, api_key: 'wrong-key-but-long-enough' }, testContext()))
    expect(error).toMatchObject({ errorType: 'HTTP_4XX', retryable: false, responseCode: 403 })
  })

  it('ignores events that name no object', async () => {
    expect(
      (await algolia.deliver(hubEvent('order.updated', { status: 'x' }), fake.config, testContext())).message,
    ).toMatch(/nothing to do/)
    expect(fake.requests).toHaveLength(0)
  })
})
