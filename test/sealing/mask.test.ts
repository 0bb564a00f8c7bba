import { describe, expect, it } from 'vitest'
import { MASK_SHOWS_AT_MOST, MASK_SHOWS_FROM_LENGTH, maskSecret } from '../../src/sealing/mask.ts'

describe('maskSecret', () => {
  it('shows nothing of a secret shorter than 16 characters', () => {
    expect(MASK_SHOWS_FROM_LENGTH).toBe(16)
    expect(maskSecret('')).toBe('…')
    expect(maskSecret('abc')).toBe('…')
    expect(maskSecret('0123456789abcde')).toBe('…')
  })

  it('shows the first quarter of a longer one, at most 10 characters', () => {
    expect(MASK_SHOWS_AT_MOST).toBe(10)
    expect(maskSecret('0123456789abcdef')).toBe('0123…')
    expect(maskSecret('Bearer 0123456789')).toBe('Bear…')
    expect(maskSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe('whsec_MfK…')
    expect(maskSecret('x'.repeat(41))).toBe(`${'x'.repeat(10)}…`)
    expect(maskSecret('x'.repeat(1000))).toBe(`${'x'.repeat(10)}…`)
  })

  it('counts characters, not UTF-16 units, and never cuts one in two', () => {
    expect(maskSecret('😀'.repeat(15))).toBe('…')
    expect(maskSecret('😀'.repeat(16))).toBe('😀😀😀😀…')
  })

  it('returns text jsonb takes: no lone surrogate, no NUL', () => {
    expect(maskSecret('\ud83d\u0000bcdefghijklmnop')).toBe('\ufffdbc…')
  })
})
