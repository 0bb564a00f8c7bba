// What a receiver gets: `{ id, type, createdAt, data }`, plus Strapi's `model` and `entry` when the
// payload is a Strapi-style entry event.

/** Larger request bodies are refused at publish. */
export const MAX_BODY_BYTES = 512 * 1024

export interface EnvelopeSource {
  id: string
  type: string
  createdAt: Date
  payload: unknown
}

export function envelope(event: EnvelopeSource): string {
  const body: Record<string, unknown> = {
    id: event.id,
    type: event.type,
    createdAt: event.createdAt.toISOString(),
    data: event.payload,
  }
  const payload = event.payload as Record<string, unknown> | null
  if (payload && typeof payload === 'object' && typeof payload.model === 'string' && 'entry' in payload) {
    body.model = payload.model
    body.entry = payload.entry
  }
  return JSON.stringify(body)
}
