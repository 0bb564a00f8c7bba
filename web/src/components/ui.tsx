// Small building blocks every screen uses.
import type { ComponentChildren } from 'preact'
import { useEffect, useId, useRef, useState } from 'preact/hooks'
import { json } from '../format.ts'

export function Page({
  title,
  actions,
  children,
}: {
  title: string
  actions?: ComponentChildren
  children: ComponentChildren
}) {
  useEffect(() => {
    document.title = `${title} · Switchyard`
  }, [title])
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {title}
        </h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  )
}

export function Panel({
  title,
  actions,
  children,
}: {
  title: string
  actions?: ComponentChildren
  children: ComponentChildren
}) {
  const id = useId()
  return (
    <section class="panel" aria-labelledby={id}>
      <header class="panel-header">
        <h2 id={id}>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  )
}

export function Stat({ label, value, hint }: { label: string; value: ComponentChildren; hint?: string }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd>
        {value}
        {hint && <small>{hint}</small>}
      </dd>
    </div>
  )
}

export type Tone = 'good' | 'bad' | 'warn' | 'neutral'

export function Badge({ tone, children, title }: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  )
}

const STATUS_TONES: Record<string, Tone> = {
  SUCCEEDED: 'good',
  FAILED: 'bad',
  DEAD: 'bad',
  RETRYING: 'warn',
  PENDING: 'neutral',
}

export function DeliveryStatusBadge({ status }: { status: string }) {
  return <Badge tone={STATUS_TONES[status] ?? 'neutral'}>{status.toLowerCase()}</Badge>
}

export function WebhookStatusBadge({
  hook,
}: {
  hook: { isActive: boolean; disabledReason?: string | null; consecutiveFailures?: number }
}) {
  if (hook.isActive && hook.consecutiveFailures) {
    return (
      <Badge tone="warn" title={`${hook.consecutiveFailures} failed deliveries in a row`}>
        active, failing
      </Badge>
    )
  }
  if (hook.isActive) return <Badge tone="good">active</Badge>
  return (
    <Badge tone="bad" title={hook.disabledReason ?? undefined}>
      disabled{hook.disabledReason ? `: ${hook.disabledReason}` : ''}
    </Badge>
  )
}

/** A message for screen readers and eyes alike; errors are announced at once. */
export function Notice({ tone = 'neutral', children }: { tone?: Tone; children: ComponentChildren }) {
  return (
    <div class={`notice ${tone}`} role={tone === 'bad' ? 'alert' : 'status'}>
      {children}
    </div>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  )
}

export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" title={label}>
      {value === undefined || value === null ? 'null' : json(value)}
    </pre>
  )
}

export interface PageInfo {
  hasNextPage: boolean
  hasPreviousPage: boolean
  startCursor: string | null
  endCursor: string | null
}

/** Relay paging: newer (before the first row) and older (after the last). */
export type Cursor = { after: string } | { before: string } | Record<string, never>

export function Pager({
  pageInfo,
  onPage,
  label,
}: {
  pageInfo: PageInfo
  onPage(cursor: Cursor): void
  label: string
}) {
  return (
    <nav class="pager" aria-label={label}>
      <button
        type="button"
        disabled={!pageInfo.hasPreviousPage || !pageInfo.startCursor}
        onClick={() => pageInfo.startCursor && onPage({ before: pageInfo.startCursor })}
      >
        ← Newer
      </button>
      <button
        type="button"
        disabled={!pageInfo.hasNextPage || !pageInfo.endCursor}
        onClick={() => pageInfo.endCursor && onPage({ after: pageInfo.endCursor })}
      >
        Older →
      </button>
    </nav>
  )
}

/** The GraphQL paging arguments for a cursor, with `size` rows. */
export function pageArgs(cursor: Cursor, size: number): Record<string, unknown> {
  if ('before' in cursor) return { before: cursor.before, last: size }
  if ('after' in cursor) return { after: cursor.after, first: size }
  return { first: size }
}

/**
 * A search field that applies its text on Enter or when it loses focus. What is typed stays while the
 * screen redraws (a live update) before it is applied.
 */
export function FilterInput({
  label,
  placeholder,
  onApply,
}: {
  label: string
  placeholder: string
  onApply(value: string): void
}) {
  const [draft, setDraft] = useState('')
  return (
    <label>
      {label}{' '}
      <input
        type="search"
        placeholder={placeholder}
        value={draft}
        onInput={(event) => setDraft(event.currentTarget.value)}
        onChange={(event) => onApply(event.currentTarget.value.trim())}
      />
    </label>
  )
}

/** A button that asks first, in a modal dialog (focus stays inside it; Escape cancels). */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  onConfirm,
  danger,
}: {
  label: string
  question: ComponentChildren
  confirmLabel: string
  onConfirm(): void
  danger?: boolean
}) {
  const dialog = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  return (
    <>
      <button type="button" class={danger ? 'danger' : undefined} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <form method="dialog">
          <p id={titleId}>{question}</p>
          <div class="actions">
            <button value="cancel" type="submit" autofocus>
              Cancel
            </button>
            <button
              type="submit"
              value="confirm"
              class={danger ? 'danger' : 'primary'}
              onClick={(event) => {
                event.preventDefault()
                dialog.current?.close()
                onConfirm()
              }}
            >
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  )
}

/** A labelled form control with its hint and its error, tied together for assistive technology. */
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string
  hint?: ComponentChildren
  error?: string | undefined
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ComponentChildren
}) {
  const id = useId()
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ')
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children({ id, 'aria-describedby': describedBy || undefined, 'aria-invalid': error ? true : undefined })}
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} class="error">
          {error}
        </small>
      )}
    </div>
  )
}

/** Runs an action, keeping whether it runs, its error, and its result message. */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const [message, setMessage] = useState<string>()
  async function run(action: () => Promise<unknown>) {
    setBusy(true)
    setError(undefined)
    setMessage(undefined)
    try {
      const result = await action()
      if (typeof result === 'string') setMessage(result)
    } catch (failure) {
      setError((failure as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const feedback = (
    <>
      {error && <Notice tone="bad">{error}</Notice>}
      {message && <Notice tone="good">{message}</Notice>}
    </>
  )
  return { busy, error, message, run, feedback, setMessage }
}
