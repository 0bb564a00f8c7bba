// What a receiver gets. STANDARD: `{ id, type, createdAt, data }`, plus Strapi's `model` and `entry` when the
// payload is a Strapi-style entry event. STRAPI: Strapi's own body, `{ event, createdAt, …the payload's fields }`.
import type { HubEvent } from '../../connectors/types.ts'

/** Larger request bodies are refused at publish, and a transform may not make one. */
export const MAX_BODY_BYTES = 512 * 1024

/** The STANDARD body, as an object: what a transform is evaluated against. */
export interface Envelope {
  id: string
  type: string
  createdAt: string
  data: unknown
  model?: unknown
  entry?: unknown
}

export function envelopeOf(event: HubEvent): Envelope {
  const body: Envelope = {
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
  return body
}

export function envelope(event: HubEvent): string {
  return JSON.stringify(envelopeOf(event))
}

/**
 * Strapi's body: the event's type as `event`, its time as `createdAt`, then the payload's fields in their
 * order. A payload field named `event` or `createdAt` gives way to the hub's, so the body always names the
 * event it was delivered as.
 */
export function strapiBody(event: HubEvent): string {
  const { event: _event, createdAt: _createdAt, ...fields } = event.data as Record<string, unknown>
  return JSON.stringify({ event: event.type, createdAt: event.createdAt.toISOString(), ...fields })
}
