// The stream under every live subscription, without a server: the per-tenant cap and the bounded buffer.
import { describe, expect, it } from 'vitest'
import { UserError } from '../../src/errors.ts'
import { createLogger } from '../../src/logger.ts'
import { createLiveStreams, type Live, liveValue } from '../../src/realtime/live.ts'

const log = createLogger('silent')
const owner = (tenantId: string) => ({ tenantId, log })

/** A stream whose values the test pushes through `emit`, and which says whether it is still listened to. */
function openWith(streams: ReturnType<typeof createLiveStreams>, tenantId: string) {
  const state: { emit?: (value: number) => void; listening: boolean } = { listening: false }
  const stream = streams.open<number>(owner(tenantId), (emit) => {
    state.emit = emit
    state.listening = true
    return () => {
      state.listening = false
    }
  })
  return { stream, state }
}

const codeOf = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return (error as UserError).extensions.code
  }
  return undefined
}

describe('live streams', () => {
  it('holds a tenant to its cap, other tenants and other hubs apart, and gives a slot back when one ends', async () => {
    const streams = createLiveStreams({ maxPerTenant: 2, buffer: 10 })
    const first = openWith(streams, 'a')
    openWith(streams, 'a')
    expect(codeOf(() => openWith(streams, 'a'))).toBe('RATE_LIMITED')
    expect(codeOf(() => openWith(streams, 'b'))).toBeUndefined()
    expect(codeOf(() => openWith(createLiveStreams({ maxPerTenant: 2, buffer: 10 }), 'a'))).toBeUndefined()
    await first.stream.return?.()
    expect(codeOf(() => openWith(streams, 'a'))).toBeUndefined()
  })

  it('listens once read, passes values on in order, and stops listening when it ends', async () => {
    const { stream, state } = openWith(createLiveStreams({ maxPerTenant: 1, buffer: 10 }), 'a')
    expect(state.listening).toBe(false)
    const next = stream.next()
    await Promise.resolve()
    state.emit?.(1)
    state.emit?.(2)
    expect(liveValue((await next).value as Live<number>)).toBe(1)
    expect(liveValue((await stream.next()).value as Live<number>)).toBe(2)
    expect(state.listening).toBe(true)
    await stream.return?.()
    expect(state.listening).toBe(false)
  })

  it('closes a subscriber that falls more than the buffer behind: what was buffered, then SUBSCRIBER_TOO_SLOW', async () => {
    const { stream, state } = openWith(createLiveStreams({ maxPerTenant: 1, buffer: 2 }), 'a')
    const first = stream.next()
    await Promise.resolve()
    for (const value of [1, 2, 3, 4, 5]) state.emit?.(value)
    const values: Array<Live<number>> = [(await first).value as Live<number>]
    for (;;) {
      const result = await stream.next()
      if (result.done) break
      values.push(result.value as Live<number>)
    }
    const last = values.pop()
    expect(values).toEqual([1, 2, 3])
    expect(last).toBeInstanceOf(UserError)
    expect((last as UserError).extensions).toMatchObject({ code: 'SUBSCRIBER_TOO_SLOW', buffer: 2 })
    expect(() => liveValue(last as Live<number>)).toThrow(UserError)
    expect(state.listening).toBe(false)
  })
})
