// Zapier: POSTs each event to a Catch Hook — the event as the hub delivers it, or a JSON template the
// tenant wrote, whose string values are rendered against the event.
import { z } from 'zod'
import { send } from '../http.ts'
import { type ConnectorContext, defineConnector, type HubEvent, secret } from '../types.ts'

const json: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(json), z.record(z.string(), json)]),
)

const configSchema = z.object({
  hook_url: secret(z.url({ protocol: /^https?$/ })).describe('The Catch Hook URL of your Zap'),
  payload_template: z
    .record(z.string(), json)
    .optional()
    .describe('A JSON object to send instead of the event; its string values are templates, such as "{{order_id}}"'),
})
type ZapierConfig = z.infer<typeof configSchema>

/** Renders every string in a JSON template; other values pass through. */
export function renderJson(template: unknown, event: HubEvent, ctx: ConnectorContext): unknown {
  if (typeof template === 'string') return ctx.render(template, event)
  if (Array.isArray(template)) return template.map((item) => renderJson(item, event, ctx))
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, renderJson(value, event, ctx)]))
  }
  return template
}

/** Every string of a JSON template, for checking them at configure time. */
export function templateStrings(template: unknown): string[] {
  if (typeof template === 'string') return [template]
  if (Array.isArray(template)) return template.flatMap(templateStrings)
  if (template && typeof template === 'object') return Object.values(template).flatMap(templateStrings)
  return []
}

function body(event: HubEvent, config: ZapierConfig, ctx: ConnectorContext) {
  if (config.payload_template) return renderJson(config.payload_template, event, ctx)
  return { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data }
}

export default defineConnector<ZapierConfig>({
  name: 'zapier',
  displayName: 'Zapier',
  description: 'Connect with 5000+ apps via Zapier',
  category: 'automation',
  configSchema,
  defaultEvents: ['*'],
  exampleConfig: { hook_url: 'https://hooks.zapier.com/hooks/catch/123456/abcdef/' },
  templates: (config) => templateStrings(config.payload_template),
  async test(config, ctx) {
    const sample = {
      id: 'test',
      type: 'switchyard.test',
      createdAt: new Date(),
      data: { message: 'Switchyard is connected' },
    }
    const response = await send(ctx, 'POST', config.hook_url, { json: body(sample, config, ctx) })
    return { message: 'Zapier accepted a test event', responseCode: response.status }
  },
  async deliver(event, config, ctx) {
    const response = await send(ctx, 'POST', config.hook_url, { json: body(event, config, ctx) })
    return { message: `Sent to Zapier (${response.status})`, responseCode: response.status }
  },
})
