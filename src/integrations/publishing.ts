// What integrations need from publishing, handed in by hub.ts: events checked before a provider is
// called or a receipt is kept, and published as one batch inside the transaction that keeps the receipt.
import type { Publisher } from '../events/publish.ts'

export type Publishing = Pick<Publisher, 'check' | 'checkBatch' | 'publishChecked'>
