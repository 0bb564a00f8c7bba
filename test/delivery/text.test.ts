// Text cut for the delivery log is cut between characters and always storable: valid UTF-8, no lone
// surrogate (jsonb refuses `\ud83d`), no NUL, so one odd value cannot roll back a batch of attempts.
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { summarize } from '../../connectors/http.ts'
import { displayHeaders } from '../../src/delivery/attempt.ts'
import { cutText, cutUtf8, storableText } from '../../src/delivery/text.ts'
import { createWebhook, deliveryReaches, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })
let client: pg.Client
beforeAll(async () => {
  client = new pg.Client({ connectionString: t.db.url })
  await client.connect()
})
afterAll(() => client.end())

const receivers: Receiver[] = []
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

/** What PostgreSQL gives back for a value stored as jsonb (it throws on what jsonb refuses). */
async function throughJsonb(value: unknown): Promise<unknown> {
  const { rows } = await client.query<{ v: unknown }>('SELECT $1::jsonb AS v', [JSON.stringify(value)])
  return rows[0]?.v
}

const EMOJI = '😀'

describe('cutting text', () => {
  it('never ends inside a surrogate pair', () => {
    expect(cutText('abcde😀tail', 6)).toBe('abcde')
    expect(cutText('abcd😀tail', 6)).toBe('abcd😀')
    expect(cutText('abcde😀tail', 6, '…')).toBe('abcde…')
    expect(cutText('short', 6, '…')).toBe('short')
    for (let max = 0; max <= 12; max++) expect(cutText(EMOJI.repeat(6), max).isWellFormed()).toBe(true)
  })

  it('replaces lone surrogates and drops NUL', () => {
    expect(storableText('a\ud83db\u0000c\ude00')).toBe('a\ufffdbc\ufffd')
    expect(cutText('\ud83d\u0000xyz', 3)).toBe('\ufffdx')
  })

  it('decodes a byte-limited UTF-8 prefix to whole characters only', () => {
    const bytes = Buffer.from(`x${EMOJI.repeat(10)}`)
    for (let limit = 0; limit <= bytes.length; limit++) {
      const text = cutUtf8(bytes, limit)
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(limit)
      expect(`x${EMOJI.repeat(10)}`.startsWith(text)).toBe(true)
      expect(text.length).toBe(limit === 0 ? 0 : 1 + 2 * Math.floor((limit - 1) / 4))
    }
  })

  it('shortens a provider’s error body on a character boundary', () => {
    expect(summarize(`${'a'.repeat(299)}${EMOJI}b`)).toBe(`${'a'.repeat(299)}…`)
    expect(summarize('  ')).toBe('(empty response)')
  })
})

describe('displayHeaders', () => {
  it('masks a credential without leaving a lone surrogate, so jsonb takes it', async () => {
    const shown = displayHeaders({
      authorization: 'abcde😀tail-of-it',
      'x-api-key': `${EMOJI.repeat(16)}`,
      'x-plain': 'v',
    })
    expect(shown).toEqual({ authorization: 'abcd…', 'x-api-key': `${EMOJI.repeat(4)}…`, 'x-plain': 'v' })
    expect(await throughJsonb(shown)).toEqual(shown)
  })

  it('keeps any value storable in jsonb, even one that is not well formed', async () => {
    const shown = displayHeaders({ 'x-plain': 'a\ud83d\u0000b', cookie: '\ude00bcdefghijklmnop' })
    expect(shown).toEqual({ 'x-plain': 'a\ufffdb', cookie: '\ufffdbcd…' })
    expect(await throughJsonb(shown)).toEqual(shown)
  })
})

describe('a receiver’s answer', () => {
  it('is cut at the byte limit on a character boundary and stored as valid UTF-8', async () => {
    // 1 + 4n bytes: the 4096-byte limit (the default) falls inside an emoji.
    const answer = `x${EMOJI.repeat(2000)}`
    const sink = await startReceiver(() => ({ headers: { 'content-type': 'text/plain; charset=utf-8' }, body: answer }))
    receivers.push(sink)
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] })
    await publish(t, 'order.created', { order_id: 'ORD-1', status: 'confirmed', amount: 1 })
    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    const body = delivery.attempts[0]?.responseBody ?? ''
    expect(body).toBe(`x${EMOJI.repeat(1023)}`)
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(4096)
    expect(await throughJsonb({ body })).toEqual({ body })
  })

  it('keeps no NUL and no broken character in what a test delivery returns', async () => {
    const sink = await startReceiver(() => ({ body: 'a\u0000b' }))
    receivers.push(sink)
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] })
    const { testWebhook } = await t.data(
      'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status responseBody } }',
      { id: hook.id },
    )
    expect(testWebhook).toEqual({ status: 'SUCCEEDED', responseBody: 'ab' })
  })
})
