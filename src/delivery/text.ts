// Text the delivery log keeps (response bodies, error messages, masked headers, connectors' accounts),
// shortened and cleaned so PostgreSQL always takes it: a lone UTF-16 surrogate becomes `\ud83d` in JSON,
// which jsonb refuses, and NUL fits neither text nor jsonb. One refused value would roll back the whole
// batch of attempts it is recorded with.
import { StringDecoder } from 'node:string_decoder'

/** `text` with each lone surrogate replaced by U+FFFD and every NUL removed. */
export function storableText(text: string): string {
  return text.toWellFormed().replaceAll('\u0000', '')
}

/**
 * At most `max` UTF-16 units of `text`, cut between characters (never inside a surrogate pair), made
 * storable; `marker` is appended when something was cut.
 */
export function cutText(text: string, max: number, marker = ''): string {
  if (text.length <= max) return storableText(text)
  const code = text.charCodeAt(max - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max
  return `${storableText(text.slice(0, end))}${marker}`
}

/** The whole characters within the first `limit` bytes of UTF-8, made storable. */
export function cutUtf8(bytes: Buffer, limit: number): string {
  // A StringDecoder holds back a character split at the end, where toString('utf8') would emit U+FFFD.
  return storableText(new StringDecoder('utf8').write(bytes.subarray(0, limit)))
}
