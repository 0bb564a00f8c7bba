// What a receiver gets: `{ id, type, createdAt, data }`, plus Strapi's `model` and `entry` when the
// payload is a Strapi-style entry event.
import type { HubEvent } from '../../connectors/types.ts'

/** Larger request bodies are refused at publish. */
export const MAX_BODY_BYTES = 512 * 1024

export function envelope(event: HubEvent): string {
  const body: Record<string, unknown> = {
    id: event.id,
    type: event.type,
    createdAt: event.createdAt.toISOString(),
    data: event.data,
  }
  const payload = event.data as Record<string, unknown> | null
  if (payload && typeof payload === 'object' && typeof payload.model === 'string' && 'entry' in payload) {
    body.model = payload.model
    body.entry = payload.entry
  }
  return JSON.stringify(body)
}
