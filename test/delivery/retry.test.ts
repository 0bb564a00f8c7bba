import { describe, expect, it } from 'vitest'
import { MAX_RETRY_DELAY_MS, nextRetryDelayMs, scheduleOf } from '../../src/delivery/retry.ts'

const standard = { maxRetries: 7, retryDelayMs: null, backoffMultiplier: null }

describe('retry delays', () => {
  it('follow the Standard Webhooks schedule by default', () => {
    expect(scheduleOf(standard)).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000])
    expect(nextRetryDelayMs(standard, 8, null)).toBeNull()
  })

  it('grow by the backoff multiplier from retryDelayMs, capped at a day', () => {
    const policy = { maxRetries: 20, retryDelayMs: 5000, backoffMultiplier: 2 }
    expect(scheduleOf(policy).slice(0, 4)).toEqual([5000, 10000, 20000, 40000])
    expect(Math.max(...scheduleOf(policy))).toBe(MAX_RETRY_DELAY_MS)
    expect(scheduleOf({ maxRetries: 3, retryDelayMs: 1000, backoffMultiplier: null })).toEqual([1000, 1000, 1000])
  })

  it('are jittered by ±20%', () => {
    expect(nextRetryDelayMs(standard, 1, null, () => 0)).toBe(4_000)
    expect(nextRetryDelayMs(standard, 1, null, () => 1)).toBe(6_000)
    const samples = Array.from({ length: 200 }, () => nextRetryDelayMs(standard, 2, null) ?? 0)
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(240_000)
    expect(Math.max(...samples)).toBeLessThanOrEqual(360_000)
    expect(new Set(samples).size).toBeGreaterThan(1)
  })

  it('wait at least as long as Retry-After asks, but never more than a day', () => {
    expect(nextRetryDelayMs(standard, 1, 60_000, () => 0.5)).toBe(60_000)
    expect(nextRetryDelayMs(standard, 1, 1_000, () => 0.5)).toBe(5_000)
    expect(nextRetryDelayMs(standard, 1, 10 * MAX_RETRY_DELAY_MS)).toBe(MAX_RETRY_DELAY_MS)
  })
})
