// How numbers and times read on screen.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' })
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—'
}

export function formatTime(iso: string): string {
  return time.format(new Date(iso))
}

/** "3 minutes ago", or "never". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never'
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000)
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ]
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit)
  }
  return relative.format(seconds, 'second')
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${value.toFixed(value === 100 ? 0 : 1)}%`
}

export function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${value} ms`
}

export function count(value: number): string {
  return value.toLocaleString()
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2)
}

/** A JSON text field's value: undefined when blank; throws SyntaxError when it is not JSON. */
export function parseJsonField(text: string): unknown {
  return text.trim() === '' ? undefined : JSON.parse(text)
}

/** The local date-time input's value for an ISO time (the input has no zone). */
export function toLocalInput(date: Date): string {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000)
  return local.toISOString().slice(0, 16)
}
