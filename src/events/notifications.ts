// Which events an integration acts on. `notifications` maps event patterns to on/off, as in
// `{ "order.*": true, "order.updated": false }`: the most specific pattern that matches an event
// decides (an exact name, then the longest prefix, then `*`). With no notifications set, the
// connector's default patterns are on.
import { badInput } from '../errors.ts'
import { isValidPattern, matchesPattern } from './matching.ts'

export type Notifications = Record<string, boolean>

const specificity = (pattern: string) => (pattern === '*' ? 0 : pattern.endsWith('.*') ? pattern.length : 10_000)

export function notificationsAllow(
  notifications: Notifications | null,
  defaultEvents: readonly string[],
  type: string,
): boolean {
  const rules = notifications ?? Object.fromEntries(defaultEvents.map((pattern) => [pattern, true]))
  let best: { rank: number; on: boolean } | undefined
  for (const [pattern, on] of Object.entries(rules)) {
    if (!matchesPattern(pattern, type)) continue
    const rank = specificity(pattern)
    if (!best || rank > best.rank) best = { rank, on }
  }
  return best?.on ?? false
}

export function validateNotifications(value: unknown): Notifications | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badInput('notifications must be a JSON object of event patterns to true or false', { field: 'notifications' })
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > 200) throw badInput('notifications may list at most 200 patterns', { field: 'notifications' })
  for (const [pattern, on] of entries) {
    if (!isValidPattern(pattern)) {
      throw badInput(`"${pattern}" is not an event pattern; use a name, "order.*" or "*"`, { field: 'notifications' })
    }
    if (typeof on !== 'boolean')
      throw badInput(`notifications["${pattern}"] must be true or false`, { field: 'notifications' })
  }
  return value as Notifications
}
