// Opened values, kept so that a delivery does not pay for a decryption. The key is the context (the row, the
// column) with the sealed text: a rotation or an update stores new sealed text, so it is a new key, and the
// old entry simply ages out. No invalidation message is needed.
import { LRUCache } from 'lru-cache'
import type { Sealer } from './sealer.ts'

/** Characters of keys and values kept, at most: some tens of MB, room for the secrets of many thousand webhooks. */
const MAX_CACHED_CHARACTERS = 16 * 1024 * 1024

export function withOpenCache(sealer: Sealer, maxCharacters = MAX_CACHED_CHARACTERS): Sealer {
  const opened = new LRUCache<string, string, { sealed: string; context: string }>({
    maxSize: maxCharacters,
    sizeCalculation: (value, key) => value.length + key.length,
    memoMethod: (_key, _stale, { context }) => sealer.open(context.sealed, context.context),
  })
  return {
    currentKeyId: sealer.currentKeyId,
    keyIds: sealer.keyIds,
    seal: (plaintext, context) => sealer.seal(plaintext, context),
    open: (sealed, context) => opened.memo(`${context}\n${sealed}`, { context: { sealed, context } }),
  }
}
