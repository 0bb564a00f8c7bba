// The events service the API uses: the catalog, publishing, and the live stream of published events.
import { CHANNELS, type EventNotice } from '../realtime/channels.ts'
import type { Listener } from '../realtime/listener.ts'
import type { Live, LiveOwner, LiveStreams } from '../realtime/live.ts'
import type { EventCatalog } from './catalog.ts'
import { matchesPattern } from './matching.ts'
import type { Publisher } from './publish.ts'

export interface EventService {
  catalog: EventCatalog
  publisher: Publisher
  /** The ids of the owner's events published from now on whose type matches one of the patterns. */
  subscribe(owner: LiveOwner, patterns: readonly string[]): AsyncIterableIterator<Live<string>>
}

export interface EventServiceOptions {
  catalog: EventCatalog
  publisher: Publisher
  listener: Listener
  live: LiveStreams
}

export function createEventService({ catalog, publisher, listener, live }: EventServiceOptions): EventService {
  return {
    catalog,
    publisher,
    subscribe: (owner, patterns) =>
      live.open<string>(owner, (emit) =>
        listener.on(CHANNELS.events, (notices) => {
          for (const notice of notices as EventNotice[]) {
            if (
              notice.tenantId === owner.tenantId &&
              patterns.some((pattern) => matchesPattern(pattern, notice.type))
            ) {
              emit(notice.eventId)
            }
          }
        }),
      ),
  }
}
