// Slack: posts each event to an Incoming Webhook with @slack/webhook — the rendered message template
// as text, and blocks holding the event's key fields.
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook'
import { z } from 'zod'
import { fetchFor, summarize } from '../http.ts'
import {
  type CallResult,
  type ConnectorContext,
  ConnectorError,
  defineConnector,
  type HubEvent,
  secret,
} from '../types.ts'

const configSchema = z.object({
  webhook_url: secret(z.url({ protocol: /^https?$/ })).describe('The Incoming Webhook URL Slack gave you'),
  channel: z.string().min(1).max(80).optional().describe('Channel to post in, when the webhook allows overriding it'),
  username: z.string().min(1).max(80).optional().describe('Name to post as'),
  icon_emoji: z
    .string()
    .regex(/^:[a-z0-9_+-]+:$/, 'must look like :emoji_name:')
    .optional()
    .describe('Emoji to post with, such as :bell:'),
})
type SlackConfig = z.infer<typeof configSchema>

/** The payload's scalar fields, as Slack section fields (Slack allows ten). */
function keyFields(data: unknown): Array<{ type: 'mrkdwn'; text: string }> {
  if (!data || typeof data !== 'object') return []
  return Object.entries(data as Record<string, unknown>)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .slice(0, 10)
    .map(([key, value]) => {
      const text = String(value)
      return { type: 'mrkdwn', text: `*${key}*\n${text.length > 200 ? `${text.slice(0, 200)}…` : text}` }
    })
}

function message(event: HubEvent, ctx: ConnectorContext) {
  const text = ctx.render(ctx.messageTemplate ?? 'Switchyard: {{event.type}}', event)
  const fields = keyFields(event.data)
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      ...(fields.length ? [{ type: 'section', fields }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `\`${event.type}\` · ${event.id}` }] },
    ],
  }
}

async function post(config: SlackConfig, ctx: ConnectorContext, body: ReturnType<typeof message>): Promise<CallResult> {
  const fetch = fetchFor(ctx)
  const webhook = new IncomingWebhook(config.webhook_url, {
    ...(config.channel ? { channel: config.channel } : {}),
    ...(config.username ? { username: config.username } : {}),
    ...(config.icon_emoji ? { icon_emoji: config.icon_emoji } : {}),
    fetch,
  })
  try {
    await webhook.send(body)
  } catch (error) {
    if (error instanceof IncomingWebhookHTTPError) {
      // Slack answers 4xx with a reason (no_service, invalid_token, channel_is_archived…): a config problem.
      throw ConnectorError.fromStatus(error.statusCode, summarize(error.body), fetch.lastRetryAfterMs())
    }
    throw ConnectorError.fromNetwork(error instanceof IncomingWebhookRequestError ? error.original : error, ctx.signal)
  }
  return { message: `Notification sent${config.channel ? ` to ${config.channel}` : ''}`, responseCode: 200 }
}

export default defineConnector<SlackConfig>({
  name: 'slack',
  displayName: 'Slack',
  description: 'Send notifications to Slack channels',
  category: 'communication',
  configSchema,
  defaultEvents: ['*'],
  exampleConfig: { webhook_url: 'https://hooks.slack.com/services/T000/B000/XXXX', channel: '#orders' },
  test: (config, ctx) =>
    post(config, ctx, {
      text: 'Switchyard is connected: this is a test notification.',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'Switchyard is connected: this is a test notification.' } },
      ],
    }),
  deliver: (event, config, ctx) => post(config, ctx, message(event, ctx)),
})
