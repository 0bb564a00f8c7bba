// The sealer: values bound to their context, a key ring where the first key seals and every key opens,
// format v1 (connector secrets sealed before key rotation) still opened, and the open cache.
import { describe, expect, it } from 'vitest'
import { withOpenCache } from '../../src/sealing/open-cache.ts'
import { createSealer, isSealed, SealError, type Sealer } from '../../src/sealing/sealer.ts'
import { sealV1 } from '../helpers/sealing.ts'

const KEY_A = 'key-a-of-at-least-thirty-two-characters'
const KEY_B = 'key-b-of-at-least-thirty-two-characters'

describe('createSealer', () => {
  it('seals under the current key, names it, and opens for the same context only', () => {
    const sealer = createSealer([KEY_A])
    const sealed = sealer.seal('whsec_the-secret', 'webhooks/1/secret')
    expect(sealed).toMatch(new RegExp(`^v2:${sealer.currentKeyId}:`))
    expect(sealed).not.toContain('the-secret')
    expect(isSealed(sealed)).toBe(true)
    expect(sealer.open(sealed, 'webhooks/1/secret')).toBe('whsec_the-secret')
    expect(() => sealer.open(sealed, 'webhooks/2/secret')).toThrow(SealError)
    expect(() => sealer.open(sealed, 'webhooks/1/previous_secret')).toThrow(SealError)
  })

  it('seals the same value differently each time, the empty string included', () => {
    const sealer = createSealer([KEY_A])
    expect(sealer.seal('x', 'c')).not.toBe(sealer.seal('x', 'c'))
    expect(sealer.open(sealer.seal('', 'c'), 'c')).toBe('')
  })

  it('tells sealed values from plain text', () => {
    for (const plain of ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'Bearer v2:abc', '', 'v1:a:b:c']) {
      expect(isSealed(plain)).toBe(false)
      expect(() => createSealer([KEY_A]).open(plain, 'c')).toThrow('not sealed')
    }
  })

  it('seals with the first key and opens with any listed one', () => {
    const underA = createSealer([KEY_A]).seal('value', 'c')
    const ring = createSealer([KEY_B, KEY_A])
    expect(ring.open(underA, 'c')).toBe('value')
    const underB = ring.seal('value', 'c')
    expect(underB).toMatch(new RegExp(`^v2:${createSealer([KEY_B]).currentKeyId}:`))
    expect(createSealer([KEY_B]).open(underB, 'c')).toBe('value')
    expect(() => createSealer([KEY_A]).open(underB, 'c')).toThrow(/sealed under key .* does not list/)
  })

  it('gives each key its own id, the same in every process', () => {
    expect(createSealer([KEY_A]).currentKeyId).not.toBe(createSealer([KEY_B]).currentKeyId)
    expect(createSealer([KEY_B, KEY_A]).keyIds).toEqual([
      createSealer([KEY_B]).currentKeyId,
      createSealer([KEY_A]).currentKeyId,
    ])
  })

  it('opens format v1 values under any listed key, for their context only', () => {
    const v1 = sealV1(KEY_A, '{"api_key":"sk_live_1"}', 'integration-id')
    expect(isSealed(v1)).toBe(true)
    expect(createSealer([KEY_B, KEY_A]).open(v1, 'integration-id')).toBe('{"api_key":"sk_live_1"}')
    expect(() => createSealer([KEY_A]).open(v1, 'another-id')).toThrow(SealError)
    expect(() => createSealer([KEY_B]).open(v1, 'integration-id')).toThrow(SealError)
  })

  it('refuses an altered value', () => {
    const sealer = createSealer([KEY_A])
    const sealed = sealer.seal('value', 'c')
    const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === 'A' ? 'B' : 'A'}${sealed.slice(-2)}`
    expect(() => sealer.open(flipped, 'c')).toThrow(SealError)
  })
})

describe('withOpenCache', () => {
  /** The real sealer, counting the values it is asked to open. */
  function counting(): { sealer: Sealer; opened: string[] } {
    const real = createSealer([KEY_A])
    const opened: string[] = []
    return {
      opened,
      sealer: {
        ...real,
        open(sealed, context) {
          opened.push(context)
          return real.open(sealed, context)
        },
      },
    }
  }

  it('opens each sealed value once, and a new one (a rotation, an update) again', () => {
    const { sealer, opened } = counting()
    const cached = withOpenCache(sealer)
    const first = cached.seal('one', 'webhooks/1/secret')
    for (let i = 0; i < 5; i++) expect(cached.open(first, 'webhooks/1/secret')).toBe('one')
    expect(opened).toEqual(['webhooks/1/secret'])
    const second = cached.seal('two', 'webhooks/1/secret')
    expect(cached.open(second, 'webhooks/1/secret')).toBe('two')
    expect(opened).toHaveLength(2)
  })

  it('keys by context too, so a value moved to another row is still refused', () => {
    const cached = withOpenCache(createSealer([KEY_A]))
    const sealed = cached.seal('one', 'webhooks/1/secret')
    expect(cached.open(sealed, 'webhooks/1/secret')).toBe('one')
    expect(() => cached.open(sealed, 'webhooks/2/secret')).toThrow(SealError)
  })

  it('keeps no failure: a value that cannot be opened is tried again', () => {
    const { sealer, opened } = counting()
    const cached = withOpenCache(sealer)
    expect(() => cached.open('plain', 'c')).toThrow(SealError)
    expect(() => cached.open('plain', 'c')).toThrow(SealError)
    expect(opened).toHaveLength(2)
  })

  it('stays within its size, dropping the least recently used', () => {
    const { sealer, opened } = counting()
    const cached = withOpenCache(sealer, 800)
    const values = Array.from({ length: 20 }, (_, i) => cached.seal(`value-${i}`, `c${i}`))
    for (const [i, value] of values.entries()) cached.open(value, `c${i}`)
    cached.open(values[0] ?? '', 'c0')
    expect(opened).toHaveLength(21)
    cached.open(values[19] ?? '', 'c19')
    expect(opened).toHaveLength(21)
  })
})
