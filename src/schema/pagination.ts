// Arguments shared by several fields, and the cursor check every connection makes.
import { validate as isUuid } from 'uuid'
import { badInput } from '../errors.ts'
import { builder } from './builder.ts'

export const timeRangeArgs = builder.args((t) => ({
  from: t.field({ type: 'DateTime', description: 'Inclusive start.' }),
  to: t.field({ type: 'DateTime', description: 'Exclusive end.' }),
}))

/** Cursors are row ids (UUIDv7, so they sort by creation time); anything else is refused up front. */
export function checkedCursors<T extends { after?: string | null; before?: string | null }>(args: T): T {
  for (const field of ['after', 'before'] as const) {
    const cursor = args[field]
    if (cursor != null && !isUuid(cursor)) throw badInput(`${field} is not a cursor from this connection`, { field })
  }
  return args
}
