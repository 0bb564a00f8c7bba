import { describe, expect, it } from 'vitest'
import { retryOnDeadlock } from '../../src/db/client.ts'

const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' })

describe('retryOnDeadlock', () => {
  it('runs the work again after PostgreSQL aborted it to break a deadlock', async () => {
    let calls = 0
    const result = await retryOnDeadlock(async () => {
      calls += 1
      if (calls < 3) throw deadlock()
      return 'done'
    })
    expect([result, calls]).toEqual(['done', 3])
  })

  it('gives up after its attempts, and never retries another error', async () => {
    let calls = 0
    await expect(
      retryOnDeadlock(async () => {
        calls += 1
        throw deadlock()
      }, 2),
    ).rejects.toThrow('deadlock detected')
    expect(calls).toBe(2)
    calls = 0
    await expect(
      retryOnDeadlock(async () => {
        calls += 1
        throw Object.assign(new Error('unique violation'), { code: '23505' })
      }),
    ).rejects.toThrow('unique violation')
    expect(calls).toBe(1)
  })
})
