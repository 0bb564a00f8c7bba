// The request headers an attempt's log keeps. Seven of a webhook attempt's headers are the hub's own and
// follow from the attempt itself (its event, delivery, number and start); they are most of the bytes an
// attempt writes, so they are stored only when they differ from what the row rebuilds, and rebuilt
// when read. What the log shows is the same either way, key order included.

export const USER_AGENT = 'Switchyard-Webhooks/1.0'

/** What an attempt's row tells of the request it sent. */
export interface AttemptIdentity {
  eventId: string
  eventType: string
  deliveryId: string
  /** 1 for the first attempt. */
  number: number
  startedAt: Date
}

/** The hub's own headers on a webhook attempt, as the attempt's row rebuilds them. */
export function hubHeaders(attempt: AttemptIdentity): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-switchyard-event': attempt.eventType,
    'x-switchyard-delivery': attempt.deliveryId,
    'x-switchyard-attempt': String(attempt.number),
    'webhook-id': attempt.eventId,
    'webhook-timestamp': String(Math.floor(attempt.startedAt.getTime() / 1000)),
  }
}

/**
 * The headers to store: without the hub's own when every one of them is what the row rebuilds
 * (`implied`), else all of them.
 */
export function storedHeaders(
  logged: Record<string, string>,
  attempt: AttemptIdentity,
): { headers: Record<string, string>; implied: boolean } {
  const own = Object.entries(hubHeaders(attempt))
  if (!own.every(([name, value]) => logged[name] === value)) return { headers: logged, implied: false }
  const headers = { ...logged }
  for (const [name] of own) delete headers[name]
  return { headers, implied: true }
}

/** jsonb's order of object keys: shorter first, then byte by byte. */
const jsonbOrder = (a: string, b: string) =>
  Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b))

/** The headers as the attempt logged them, the hub's own rebuilt when they were `implied`. */
export function loggedHeaders(
  stored: Record<string, string>,
  implied: boolean,
  attempt: AttemptIdentity,
): Record<string, string> {
  if (!implied) return stored
  const all: Record<string, string> = { ...stored, ...hubHeaders(attempt) }
  return Object.fromEntries(
    Object.keys(all)
      .sort(jsonbOrder)
      .map((name) => [name, all[name] as string]),
  )
}
