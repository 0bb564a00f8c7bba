// The one way the hub shows a secret it keeps (a webhook's signing secret, a configured header value, a
// connector's secret field): enough of its start to tell two apart, never enough to use it.

/** A secret shorter than this (in characters) shows nothing of itself. */
export const MASK_SHOWS_FROM_LENGTH = 16

/** The most characters of a secret ever shown. */
export const MASK_SHOWS_AT_MOST = 10

/**
 * The first quarter of the secret (at most MASK_SHOWS_AT_MOST characters), then "…"; only "…" for one shorter
 * than MASK_SHOWS_FROM_LENGTH. Characters are code points, so the cut never splits one; the result is
 * well-formed text without NUL, which jsonb takes.
 */
export function maskSecret(secret: string): string {
  const characters = [...secret]
  if (characters.length < MASK_SHOWS_FROM_LENGTH) return '…'
  const shown = characters.slice(0, Math.min(MASK_SHOWS_AT_MOST, Math.floor(characters.length / 4))).join('')
  return `${shown.toWellFormed().replaceAll('\u0000', '')}…`
}
