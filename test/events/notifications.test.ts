// Which events an integration acts on: its notifications (event patterns to on/off), or else its connector's
// default patterns. Pure functions: no hub, no database.
import { describe, expect, it } from 'vitest'
import { UserError } from '../../src/errors.ts'
import { notificationsAllow, validateNotifications } from '../../src/events/notifications.ts'

describe('notificationsAllow', () => {
  it('falls back to the connector’s default patterns, all on', () => {
    expect(notificationsAllow(null, ['order.*'], 'order.created')).toBe(true)
    expect(notificationsAllow(null, ['order.*'], 'customer.created')).toBe(false)
    expect(notificationsAllow(null, ['*'], 'anything.at_all')).toBe(true)
    expect(notificationsAllow(null, [], 'order.created')).toBe(false)
  })

  it('ignores the defaults once notifications are set', () => {
    expect(notificationsAllow({ 'customer.created': true }, ['order.*'], 'order.created')).toBe(false)
    expect(notificationsAllow({}, ['*'], 'order.created')).toBe(false)
  })

  it('lets the most specific matching pattern decide: the name, then the longest prefix, then *', () => {
    const rules = { '*': true, 'order.*': false, 'order.item.*': true, 'order.item.removed': false }
    expect(notificationsAllow(rules, [], 'customer.created')).toBe(true)
    expect(notificationsAllow(rules, [], 'order.created')).toBe(false)
    expect(notificationsAllow(rules, [], 'order.item.added')).toBe(true)
    expect(notificationsAllow(rules, [], 'order.item.removed')).toBe(false)
  })

  it('decides the same whatever order the patterns are written in', () => {
    const forward = { 'order.*': true, 'order.updated': false }
    const backward = { 'order.updated': false, 'order.*': true }
    for (const rules of [forward, backward]) {
      expect(notificationsAllow(rules, [], 'order.created')).toBe(true)
      expect(notificationsAllow(rules, [], 'order.updated')).toBe(false)
    }
  })

  it('is off for an event no pattern matches', () => {
    expect(notificationsAllow({ 'order.created': true }, ['*'], 'order.updated')).toBe(false)
  })
})

describe('validateNotifications', () => {
  const refusal = (value: unknown) => {
    try {
      validateNotifications(value)
    } catch (error) {
      expect(error).toBeInstanceOf(UserError)
      expect((error as UserError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'notifications' })
      return (error as UserError).message
    }
    throw new Error(`validateNotifications accepted ${JSON.stringify(value)}`)
  }

  it('takes event patterns to true or false, and null for "the defaults"', () => {
    const value = { 'order.*': true, 'order.updated': false, '*': false }
    expect(validateNotifications(value)).toBe(value)
    expect(validateNotifications(null)).toBeNull()
    expect(validateNotifications(undefined)).toBeNull()
  })

  it('refuses anything but an object of patterns to booleans', () => {
    expect(refusal(['order.*'])).toMatch(/JSON object/)
    expect(refusal('order.*')).toMatch(/JSON object/)
    expect(refusal({ 'Order.*': true })).toMatch(/not an event pattern/)
    expect(refusal({ '*.created': true })).toMatch(/not an event pattern/)
    expect(refusal({ 'order.*': 'yes' })).toMatch(/must be true or false/)
    expect(refusal(Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`e.n${i}`, true])))).toMatch(
      /at most 200 patterns/,
    )
  })
})
