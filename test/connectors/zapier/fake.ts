// A fake Zapier Catch Hook: accepts POSTs on its hook path as Zapier does.
import { json, startFakeProvider } from '../kit.ts'

export const ZAPIER_HOOK_PATH = '/hooks/catch/123456/abcdef/'

export function startFakeZapier() {
  return startFakeProvider(
    (request) =>
      request.method === 'POST' && request.path === ZAPIER_HOOK_PATH
        ? json({ id: 'a1b2c3', request_id: 'r-1', attempt: 'a-1', status: 'success' })
        : undefined,
    (base) =>
      ({ hook_url: `${base}${ZAPIER_HOOK_PATH}` }) as { hook_url: string; payload_template?: Record<string, unknown> },
  )
}
