// Which webhooks an event reaches: patterns, and every filter operator and the seed's shorthand, at the top
// of a filter and inside $and and $or. Pure functions: no hub, no database.
import { describe, expect, it } from 'vitest'
import { UserError } from '../../src/errors.ts'
import {
  conditionsOf,
  type Filters,
  filtersMatch,
  firstMatchingPattern,
  isValidPattern,
  MAX_FILTER_CONDITIONS,
  matchesPattern,
  patternsFor,
  resolveKey,
  testCondition,
  validateFilters,
} from '../../src/events/matching.ts'
import { MAX_REGEX_INPUT_LENGTH } from '../../src/events/regex.ts'

/** Whether an event of `type` with `payload` passes `filters`, which must be accepted first. */
const passes = (filters: unknown, payload: unknown, type = 'order.created') =>
  filtersMatch(validateFilters(filters), type, payload)

/** The BAD_USER_INPUT message validateFilters refuses `filters` with. */
function refusal(filters: unknown): string {
  try {
    validateFilters(filters)
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    expect((error as UserError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filters' })
    return (error as UserError).message
  }
  throw new Error(`validateFilters accepted ${JSON.stringify(filters)}`)
}

describe('event patterns', () => {
  it('matches `*`, a prefix pattern at any depth, or the exact name', () => {
    expect(matchesPattern('*', 'order.created')).toBe(true)
    expect(matchesPattern('order.*', 'order.created')).toBe(true)
    expect(matchesPattern('order.*', 'order.item.added')).toBe(true)
    expect(matchesPattern('order.*', 'orders.created')).toBe(false)
    expect(matchesPattern('order.*', 'order')).toBe(false)
    expect(matchesPattern('order.created', 'order.created')).toBe(true)
    expect(matchesPattern('order.created', 'order.created.late')).toBe(false)
  })

  it('names the first of a webhook’s patterns that matches', () => {
    expect(firstMatchingPattern(['customer.*', 'order.*', '*'], 'order.created')).toBe('order.*')
    expect(firstMatchingPattern(['customer.*'], 'order.created')).toBeUndefined()
  })

  it('lists every pattern that matches a type, for looking webhooks up by the type they receive', () => {
    expect(patternsFor('order.item.added')).toEqual(['*', 'order.*', 'order.item.*', 'order.item.added'])
    for (const pattern of patternsFor('order.item.added'))
      expect(matchesPattern(pattern, 'order.item.added')).toBe(true)
  })

  it('accepts names, prefix patterns and `*`, and nothing else', () => {
    for (const pattern of ['*', 'order', 'order.created', 'order.*', 'order.item_added.v2', 'a-b.c-d']) {
      expect(isValidPattern(pattern), pattern).toBe(true)
    }
    for (const pattern of ['', 'Order.created', 'order.', '.order', 'order.*.x', '*.created', 'order**', 'a b']) {
      expect(isValidPattern(pattern), pattern).toBe(false)
    }
    expect(isValidPattern(`a.${'b'.repeat(98)}`)).toBe(true)
    expect(isValidPattern(`a.${'b'.repeat(99)}`)).toBe(false)
  })
})

describe('the operator form', () => {
  it('$eq: equal values only', () => {
    expect(passes({ status: { $eq: 'paid' } }, { status: 'paid' })).toBe(true)
    expect(passes({ status: { $eq: 'paid' } }, { status: 'open' })).toBe(false)
    expect(passes({ amount: { $eq: 10 } }, { amount: 10 })).toBe(true)
    expect(passes({ amount: { $eq: 10 } }, { amount: '10' })).toBe(false)
  })

  it('$ne: any other value, a missing one included', () => {
    expect(passes({ status: { $ne: 'paid' } }, { status: 'open' })).toBe(true)
    expect(passes({ status: { $ne: 'paid' } }, { status: 'paid' })).toBe(false)
    expect(passes({ status: { $ne: 'paid' } }, {})).toBe(true)
  })

  it('$in and $nin: one of a list, none of a list', () => {
    expect(passes({ status: { $in: ['paid', 'shipped'] } }, { status: 'shipped' })).toBe(true)
    expect(passes({ status: { $in: ['paid', 'shipped'] } }, { status: 'open' })).toBe(false)
    expect(passes({ status: { $nin: ['paid', 'shipped'] } }, { status: 'open' })).toBe(true)
    expect(passes({ status: { $nin: ['paid', 'shipped'] } }, { status: 'paid' })).toBe(false)
  })

  it('$gt, $gte, $lt, $lte: bounds, strict or inclusive', () => {
    const at = (operator: string, bound: number, amount: number) =>
      passes({ amount: { [operator]: bound } }, { amount })
    expect([at('$gt', 100, 100), at('$gt', 100, 101)]).toEqual([false, true])
    expect([at('$gte', 100, 99), at('$gte', 100, 100)]).toEqual([false, true])
    expect([at('$lt', 100, 100), at('$lt', 100, 99)]).toEqual([false, true])
    expect([at('$lte', 100, 101), at('$lte', 100, 100)]).toEqual([false, true])
    expect(passes({ amount: { $gte: 10, $lt: 20 } }, { amount: 15 })).toBe(true)
    expect(passes({ amount: { $gte: 10, $lt: 20 } }, { amount: 20 })).toBe(false)
  })

  it('$exists: the path is there, or is not', () => {
    expect(passes({ coupon: { $exists: true } }, { coupon: 'SPRING' })).toBe(true)
    expect(passes({ coupon: { $exists: true } }, {})).toBe(false)
    expect(passes({ coupon: { $exists: false } }, {})).toBe(true)
    expect(passes({ coupon: { $exists: false } }, { coupon: 'SPRING' })).toBe(false)
  })

  it('$regex with $options: strings only, up to the input limit', () => {
    expect(passes({ email: { $regex: '@example\\.com$' } }, { email: 'a@example.com' })).toBe(true)
    expect(passes({ email: { $regex: '@example\\.com$' } }, { email: 'a@EXAMPLE.com' })).toBe(false)
    expect(passes({ email: { $regex: '@example\\.com$', $options: 'i' } }, { email: 'a@EXAMPLE.com' })).toBe(true)
    expect(passes({ code: { $regex: '^4' } }, { code: 42 })).toBe(false)
    const long = `${'a'.repeat(MAX_REGEX_INPUT_LENGTH)}`
    expect(passes({ name: { $regex: '^a+$' } }, { name: long })).toBe(true)
    expect(passes({ name: { $regex: '^a+$' } }, { name: `${long}a` })).toBe(false)
  })

  it('$and and $or: every condition, or any one', () => {
    const both = { $and: [{ amount: { $gte: 100 } }, { currency: { $eq: 'EUR' } }] }
    expect(passes(both, { amount: 100, currency: 'EUR' })).toBe(true)
    expect(passes(both, { amount: 100, currency: 'USD' })).toBe(false)
    const either = { $or: [{ amount: { $gte: 100 } }, { currency: { $eq: 'EUR' } }] }
    expect(passes(either, { amount: 1, currency: 'EUR' })).toBe(true)
    expect(passes(either, { amount: 1, currency: 'USD' })).toBe(false)
  })

  it('reads dotted payload paths', () => {
    expect(passes({ 'customer.tier': { $eq: 'gold' } }, { customer: { tier: 'gold' } })).toBe(true)
    expect(passes({ 'customer.tier': { $eq: 'gold' } }, { customer: 'gold' })).toBe(false)
  })

  it('wants every top-level entry to hold', () => {
    const filters = { amount: { $gte: 100 }, status: { $eq: 'paid' } }
    expect(passes(filters, { amount: 100, status: 'paid' })).toBe(true)
    expect(passes(filters, { amount: 100, status: 'open' })).toBe(false)
  })

  it('lets everything through without filters', () => {
    expect(filtersMatch(null, 'order.created', {})).toBe(true)
    expect(validateFilters(null)).toBeNull()
    expect(validateFilters(undefined)).toBeNull()
  })
})

describe('the shorthand', () => {
  it('reads a list as "one of"', () => {
    expect(passes({ status: ['confirmed', 'shipped'] }, { status: 'shipped' })).toBe(true)
    expect(passes({ status: ['confirmed', 'shipped'] }, { status: 'cancelled' })).toBe(false)
  })

  it('reads min_ and max_ on a number as inclusive bounds', () => {
    expect(passes({ min_amount: 100 }, { amount: 100 })).toBe(true)
    expect(passes({ min_amount: 100 }, { amount: 99.99 })).toBe(false)
    expect(passes({ max_amount: 100 }, { amount: 100 })).toBe(true)
    expect(passes({ max_amount: 100 }, { amount: 100.01 })).toBe(false)
    expect(passes({ min_amount: 10, max_amount: 20 }, { amount: 15 })).toBe(true)
    expect(passes({ min_amount: 10, max_amount: 20 }, { amount: 21 })).toBe(false)
  })

  it('reads min_ and max_ on anything but a number as a plain path', () => {
    expect(passes({ min_tier: 'gold' }, { min_tier: 'gold' })).toBe(true)
    expect(passes({ min_tier: 'gold' }, { tier: 'gold' })).toBe(false)
  })

  it('reads any other value as equality', () => {
    expect(passes({ currency: 'EUR' }, { currency: 'EUR' })).toBe(true)
    expect(passes({ currency: 'EUR' }, { currency: 'USD' })).toBe(false)
    expect(passes({ gift: true }, { gift: true })).toBe(true)
    expect(passes({ gift: true }, { gift: 'true' })).toBe(false)
    expect(passes({ items: 3 }, { items: 3 })).toBe(true)
  })

  it('drops the event’s first segment from a key the payload lacks: the seed’s order_status is status', () => {
    expect(resolveKey('order_status', 'order.created', { status: 'shipped' })).toBe('status')
    expect(resolveKey('order_status', 'order.created', { order_status: 'shipped', status: 'x' })).toBe('order_status')
    expect(resolveKey('order_status', 'customer.created', { status: 'shipped' })).toBe('order_status')
    expect(
      passes({ order_status: ['confirmed', 'shipped'], min_order_total: 50 }, { status: 'shipped', total: 50 }),
    ).toBe(true)
  })

  it('is read inside $and', () => {
    const filters = { $and: [{ order_status: ['confirmed', 'shipped'] }, { min_amount: 100 }] }
    expect(passes(filters, { status: 'shipped', amount: 100 })).toBe(true)
    expect(passes(filters, { status: 'shipped', amount: 99 })).toBe(false)
    expect(passes(filters, { status: 'cancelled', amount: 100 })).toBe(false)
  })

  it('is read inside $or, with both bounds of one path in one condition', () => {
    const filters = { $or: [{ min_amount: 10, max_amount: 20 }, { 'customer.tier': 'gold' }, { tags: ['vip'] }] }
    expect(passes(filters, { amount: 15 })).toBe(true)
    expect(passes(filters, { amount: 25 })).toBe(false)
    expect(passes(filters, { amount: 25, customer: { tier: 'gold' } })).toBe(true)
    expect(passes(filters, { amount: 25, tags: 'vip' })).toBe(true)
  })

  it('is read at every depth, mixed with the operator form', () => {
    const filters = {
      currency: 'EUR',
      $and: [{ $or: [{ order_status: ['confirmed'] }, { max_amount: 5 }] }, { amount: { $ne: 0 } }],
    }
    expect(passes(filters, { currency: 'EUR', status: 'confirmed', amount: 50 })).toBe(true)
    expect(passes(filters, { currency: 'EUR', status: 'open', amount: 5 })).toBe(true)
    expect(passes(filters, { currency: 'EUR', status: 'open', amount: 6 })).toBe(false)
    expect(passes(filters, { currency: 'EUR', status: 'open', amount: 0 })).toBe(false)
    expect(passes(filters, { currency: 'USD', status: 'confirmed', amount: 50 })).toBe(false)
  })
})

describe('explaining a match', () => {
  it('gives one condition per top-level entry, with the path it tests', () => {
    const filters: Filters = { order_status: ['shipped'], $or: [{ min_amount: 100 }, { currency: 'EUR' }] }
    const payload = { status: 'shipped', amount: 50, currency: 'EUR' }
    const conditions = conditionsOf(filters, 'order.created', payload)
    expect(conditions.map(({ filter, path }) => ({ filter, path }))).toEqual([
      { filter: { order_status: ['shipped'] }, path: 'status' },
      { filter: { $or: [{ min_amount: 100 }, { currency: 'EUR' }] }, path: null },
    ])
    expect(conditions.map((condition) => testCondition(condition, payload))).toEqual([true, true])
    expect(conditions.map((condition) => testCondition(condition, { ...payload, currency: 'USD' }))).toEqual([
      true,
      false,
    ])
  })
})

describe('checking filters when a webhook is saved', () => {
  it('takes both forms, mixed, and returns them as written', () => {
    const filters = { status: ['a'], min_amount: 1, 'customer.tier': { $in: ['gold'] }, $or: [{ x: 1 }] }
    expect(validateFilters(filters)).toBe(filters)
  })

  it('refuses anything but a JSON object', () => {
    for (const filters of ['status', 3, ['status'], true]) expect(refusal(filters)).toMatch(/must be a JSON object/)
  })

  it('refuses an operator outside the allow-list, at any depth', () => {
    expect(refusal({ $where: 'this.amount > 1' })).toMatch(/only \$and and \$or/)
    expect(refusal({ amount: { $where: 'x' } })).toMatch(/unknown operator/)
    expect(refusal({ amount: { $gte: 1, $type: 'number' } })).toMatch(/unknown operator/)
    expect(refusal({ $or: [{ amount: { $expr: 1 } }] })).toMatch(/unknown operator/)
    expect(refusal({ amount: { $and: [] } })).toMatch(/unknown operator/)
  })

  it('refuses operands of the wrong kind', () => {
    expect(refusal({ status: { $in: 'paid' } })).toMatch(/\$in must be a list/)
    expect(refusal({ status: { $nin: 'paid' } })).toMatch(/\$nin must be a list/)
    expect(refusal({ coupon: { $exists: 'yes' } })).toMatch(/must be true or false/)
    expect(refusal({ email: { $options: 'g', $regex: 'a' } })).toMatch(/only the flags i, m, s, u/)
    expect(refusal({ email: { $regex: 'a', $options: 'g' } })).toMatch(/the flag "g" is not supported/)
    expect(refusal({ email: { $regex: 5 } })).toMatch(/regular expression of at most 200 characters/)
    expect(refusal({ email: { $regex: 'a'.repeat(201) } })).toMatch(/at most 200 characters/)
    expect(refusal({ email: { $regex: '(?=a)' } })).toMatch(/not supported by RE2/)
    expect(refusal({ email: { $regex: '(' } })).toMatch(/not a valid regular expression/)
  })

  it('refuses $and and $or that are not non-empty lists of conditions', () => {
    for (const value of [[], {}, 'x', [1], [[]]])
      expect(refusal({ $or: value })).toMatch(/non-empty list of conditions/)
    expect(refusal({ $and: [] })).toMatch(/non-empty list of conditions/)
  })

  it('refuses a nested object that is neither a dotted path nor operators', () => {
    expect(refusal({ customer: { tier: 'gold' } })).toMatch(/dotted path/)
    expect(refusal({ $and: [{ customer: { tier: 'gold' } }] })).toMatch(/dotted path/)
  })

  it('bounds the depth, the number of paths (across $and and $or) and the size', () => {
    let deep: Filters = { a: 1 }
    for (let level = 0; level < 9; level++) deep = { $and: [deep] }
    expect(refusal(deep)).toMatch(/nests too deeply/)
    const paths = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`p${i}`, i]))
    expect(validateFilters(paths(MAX_FILTER_CONDITIONS))).toBeTruthy()
    expect(refusal(paths(MAX_FILTER_CONDITIONS + 1))).toMatch(/at most 50 payload paths/)
    expect(refusal({ ...paths(30), $or: [paths(21)] })).toMatch(/at most 50 payload paths/)
    expect(refusal({ big: 'x'.repeat(16_384) })).toMatch(/at most 16 KiB/)
  })
})
