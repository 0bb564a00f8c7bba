// Transforms on their processes: the body an expression makes, each way one can fail to make one, and the bounds
// that keep an expression from holding the hub: jsonata's guardrails, a process terminated when it overruns
// inside one native step, and one that ends alone when it passes its memory limit.
import { afterAll, describe, expect, it } from 'vitest'
import type { Envelope } from '../../src/delivery/envelope.ts'
import {
  checkTransform,
  createTransformer,
  POOL_SIZE,
  TENANT_PROCESSES,
  TIME_LIMIT_MS,
  TransformBusyError,
  TransformError,
} from '../../src/delivery/transform.ts'
import { UserError } from '../../src/errors.ts'

const transformer = createTransformer()
afterAll(() => transformer.close())

const envelope: Envelope = {
  id: '0193a4f0-0000-7000-8000-000000000000',
  type: 'order.created',
  createdAt: '2026-11-30T12:00:00.000Z',
  data: {
    order_id: 'ORD-1',
    amount: 150,
    items: [
      { sku: 'A', qty: 2 },
      { sku: 'B', qty: 1 },
    ],
  },
}

const failure = (expression: string) =>
  transformer.apply(expression, envelope, 'tenant-a').then(
    (body) => {
      throw new Error(`expected a TransformError, got the body ${body}`)
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(TransformError)
      return (error as Error).message
    },
  )

describe('apply', () => {
  it('makes the body the expression gives, as JSON', async () => {
    const body = await transformer.apply(
      '{ "text": "Order " & data.order_id & " (" & type & ")", "units": $sum(data.items.qty), "at": createdAt }',
      envelope,
      'tenant-a',
    )
    expect(body).toBe('{"text":"Order ORD-1 (order.created)","units":3,"at":"2026-11-30T12:00:00.000Z"}')
    expect(await transformer.apply('data.items.sku', envelope, 'tenant-a')).toBe('["A","B"]')
    expect(await transformer.apply('data.order_id', envelope, 'tenant-a')).toBe('"ORD-1"')
  })

  it('fails with jsonata’s error when the evaluation does', async () => {
    expect(await failure('data.order_id + 1')).toMatch(
      /^the transform failed: .*"\+" operator.*\(T2001 at character \d+\)$/,
    )
    expect(await failure('$nosuchfunction()')).toMatch(/T1006/)
  })

  it('fails when the result is no JSON value', async () => {
    expect(await failure('data.nothing_here')).toMatch(/no JSON value/)
    expect(await failure('function($x) { $x }')).toMatch(/no JSON value/)
    expect(await transformer.apply('{ "kept": 1, "left out": function($x) { $x } }', envelope, 'tenant-a')).toBe(
      '{"kept":1}',
    )
  })

  it('fails when the body would pass 512 KiB', async () => {
    expect(await failure('$pad("", 600000, "x")')).toMatch(/made a body of 600002 bytes; the limit is 524288/)
  })

  it('stops an evaluation that runs on, or recurses without end, or makes an endless sequence', async () => {
    expect(await failure('($loop := function($n) { $loop($n + 1) }; $loop(0))')).toMatch(/D1011|D1012/)
    expect(await failure('($f := function($n) { $n < 2 ? $n : $f($n - 1) + $f($n - 2) }; $f(40))')).toMatch(/D1012/)
    expect(await failure('[1..10000000]')).toMatch(/D2015/)
  })

  it('terminates a process stuck in one native step, while the event loop keeps turning; the next transform runs', async () => {
    // A backtracking regex: a single call that would take minutes, which no check between steps can stop.
    let turns = 0
    let pending = true
    const spin = () => {
      if (!pending) return
      turns++
      setImmediate(spin)
    }
    spin()
    const message = await failure('$match($pad("", 40, "a") & "!", /(a+)+$/)').finally(() => {
      pending = false
    })
    expect(message).toBe(`the transform ran longer than ${TIME_LIMIT_MS} ms and was stopped`)
    // Had the regex run on this thread, the loop would have stood still until it ended.
    expect(turns).toBeGreaterThan(100)
    expect(await transformer.apply('type', envelope, 'tenant-a')).toBe('"order.created"')
  })
})

describe('memory', () => {
  it('a process past its memory limit ends alone: the transform fails, this process stays up, the next one runs', async () => {
    // A heap of 32 MB, which reading an envelope of 300,000 items passes.
    const small = createTransformer({ memoryLimitMb: 32 })
    try {
      const items = Array.from({ length: 300_000 }, (_, i) => ({ i, sku: `SKU-${i}` }))
      const error = await small
        .apply('type', { ...envelope, data: { items } }, 'tenant-a')
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(TransformError)
      expect((error as Error).message).toBe(
        "the transform's process ended before it answered: it used more than 32 MB, or crashed",
      )
      expect(await small.apply('data.order_id', envelope, 'tenant-a')).toBe('"ORD-1"')
    } finally {
      await small.close()
    }
  })

  it('a string doubled step by step stops at twice the body limit, before it takes memory', async () => {
    expect(await failure('($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("x", 28))')).toBe(
      'the transform failed: a step made a string of 2097152 characters; the limit is 1048576',
    )
    expect(await failure('$pad("", 500000000)')).toBe(
      'the transform failed: a step made a string of 500000000 characters; the limit is 1048576',
    )
    expect(await transformer.apply('$length($pad("", 1048576, "x"))', envelope, 'tenant-a')).toBe('1048576')
  })
})

describe('sharing the pool among tenants', () => {
  // Held in one native step until the time limit ends its process.
  const STUCK = '$match($pad("", 40, "a") & "!", /(a+)+$/)'

  const withTransformer = async (
    test: (shared: ReturnType<typeof createTransformer>) => Promise<void>,
    options?: Parameters<typeof createTransformer>[0],
  ) => {
    const shared = createTransformer(options)
    try {
      await test(shared)
    } finally {
      await shared.close()
    }
  }

  it('one tenant’s slow transforms hold at most its share: another’s answers behind no more than that many', async () => {
    // Each waits behind the ones before it, and each of their processes' start: no deadline is tested here.
    await withTransformer(
      async (shared) => {
        let slowDone = 0
        const slow = Array.from({ length: POOL_SIZE + 2 }, () =>
          shared
            .apply(STUCK, envelope, 'tenant-slow')
            .catch((error: unknown) => expect(error).toBeInstanceOf(TransformError))
            .finally(() => {
              slowDone++
            }),
        )
        const slowDoneFirst = await shared.apply('type', envelope, 'tenant-quick').then(() => slowDone)
        // Without shares, every one of them came first.
        expect(slowDoneFirst).toBeLessThanOrEqual(TENANT_PROCESSES)
        await Promise.all(slow)
        expect(slowDone).toBe(POOL_SIZE + 2)
      },
      { queueDeadlineMs: 60_000 },
    )
  })

  it('a transform that finds no free process in time is a TransformBusyError, not the expression’s fault', async () => {
    // The wait counts a process's start, which a loaded machine can take a second or more over: the deadline
    // leaves room for it, and the stuck transforms hold their processes well past the deadline.
    await withTransformer(
      async (shared) => {
        // Every process started, then held, each by another tenant's stuck transform.
        await Promise.all(Array.from({ length: POOL_SIZE }, (_, n) => shared.apply('type', envelope, `tenant-${n}`)))
        const held = Array.from({ length: POOL_SIZE }, (_, n) =>
          shared.apply(STUCK, envelope, `tenant-stuck-${n}`).catch((error: unknown) => error),
        )
        const error = await shared.apply('type', envelope, 'tenant-waiting').catch((caught: unknown) => caught)
        expect(error).toBeInstanceOf(TransformBusyError)
        expect((error as Error).message).toBe('the transform found no free process within 3000 ms')
        for (const stuck of await Promise.all(held)) {
          expect(stuck).toBeInstanceOf(TransformError)
          expect((stuck as Error).message).toBe('the transform ran longer than 6000 ms and was stopped')
        }
        // The processes ended with the stuck transforms are replaced.
        expect(await shared.apply('type', envelope, 'tenant-waiting')).toBe('"order.created"')
      },
      { queueDeadlineMs: 3000, timeLimitMs: 6000 },
    )
  })

  it('a burst of one tenant’s transforms waits its turn: every one answers, none is refused as busy', async () => {
    await withTransformer(async (shared) => {
      // The worker's own caps (a webhook's maxConcurrency, a tenant's share of the slots) bound the burst.
      const burst = Array.from({ length: 50 }, () => shared.apply('type', envelope, 'tenant-burst'))
      expect(await Promise.all(burst)).toEqual(Array(50).fill('"order.created"'))
    })
  })
})

describe('checkTransform', () => {
  const refusal = (expression: string) => {
    try {
      checkTransform(expression)
    } catch (error) {
      expect(error).toBeInstanceOf(UserError)
      expect((error as UserError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'transform' })
      return (error as UserError).message
    }
    throw new Error(`${expression} was taken`)
  }

  it('takes an expression that compiles', () => {
    expect(checkTransform('{ "text": data.order_id }')).toBe('{ "text": data.order_id }')
  })

  it('refuses one that does not, saying where', () => {
    expect(refusal('{ "text": data.order_id ')).toMatch(
      /^transform is not a valid JSONata expression: .+ \(S0\d{3} at character \d+\)$/,
    )
    expect(refusal('data.[')).toMatch(/not a valid JSONata expression/)
    expect(refusal(`${'('.repeat(4999)}1${')'.repeat(4999)}`)).toBe(
      'transform is not a valid JSONata expression: it nests too deeply',
    )
  })

  it('refuses an empty one, and one over 10000 characters', () => {
    expect(refusal('  ')).toMatch(/empty; set it to null/)
    expect(refusal(`"${'x'.repeat(10_000)}"`)).toMatch(/at most 10000 characters/)
  })
})
