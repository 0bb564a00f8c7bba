// What integrations need from publishing, handed in by hub.ts: an event checked before a provider is
// called or a receipt is kept, and published inside the transaction that keeps the receipt.
import type { checkPublishable, publishChecked } from '../events/publish.ts'

export interface Publishing {
  checkPublishable: typeof checkPublishable
  publishChecked: typeof publishChecked
}
