// A fake Slack Incoming Webhook: answers "ok" to POSTs on its webhook path, as Slack does.
import { startFakeProvider } from '../kit.ts'

export const SLACK_HOOK_PATH = '/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX'

export function startFakeSlack() {
  return startFakeProvider(
    (request) =>
      request.method === 'POST' && request.path === SLACK_HOOK_PATH
        ? { body: 'ok' }
        : { status: 404, body: 'no_service' },
    (base) => ({
      webhook_url: `${base}${SLACK_HOOK_PATH}`,
      channel: '#orders',
      username: 'Switchyard',
      icon_emoji: ':bell:',
    }),
  )
}
