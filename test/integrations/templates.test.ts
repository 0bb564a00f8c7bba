// A hostile message template cannot stall the process or exhaust its memory: liquidjs's parse, render
// and memory limits end it with an error, which fails that one delivery.
import { describe, expect, it } from 'vitest'
import { checkTemplate, renderTemplate } from '../../src/integrations/templates.ts'

const event = (data: unknown) => ({ id: 'evt_1', type: 'order.created', createdAt: new Date(0), data })

describe('message templates', () => {
  it('renders an ordinary template', () => {
    expect(renderTemplate('Order {{order_id}} is {{status | upcase}}', event({ order_id: 7, status: 'ok' }))).toBe(
      'Order 7 is OK',
    )
  })

  it.each([
    ['a huge loop', '{% for i in (1..100000000) %}x{% endfor %}', /memory alloc limit exceeded/],
    ['nested loops', '{% for i in (1..900000) %}{% for j in (1..900000) %}x{% endfor %}{% endfor %}', /limit exceeded/],
    [
      'a string doubled until it is huge',
      '{% assign s = "xxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}',
      /memory alloc limit exceeded/,
    ],
    [
      'a long-running loop over a large payload string',
      '{% for i in (1..900000) %}{{ big | upcase }}{% endfor %}',
      /limit exceeded/,
    ],
  ])('stops %s with a limit error', (_what, template, error) => {
    checkTemplate(template, 'messageTemplate')
    expect(() => renderTemplate(template, event({ big: 'y'.repeat(100_000) }))).toThrow(error)
  })

  it('stops output that grows past the limit, however cheaply each piece is made', () => {
    // Eleven pieces of 100,000 characters: past the cap in microseconds, long before the render's time limit.
    const template = '{% for i in (1..11) %}{{ big }}{% endfor %}'
    expect(() => renderTemplate(template, event({ big: 'y'.repeat(100_000) }))).toThrow(
      /the rendered message would be longer than 1000000 characters/,
    )
  })

  it('refuses a template nested too deeply to parse, when it is configured', () => {
    const deep = `${'{% if true %}'.repeat(400)}x${'{% endif %}'.repeat(400)}`
    expect(() => checkTemplate(deep, 'messageTemplate')).toThrow(/at most 4000 characters/)
  })
})
