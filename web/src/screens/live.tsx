// Events and delivery attempts as they happen, over graphql-ws; filtered by pattern and webhook; pausable.
import { useEffect, useRef, useState } from 'preact/hooks'
import { subscribe } from '../api.ts'
import { DeliveryStatusBadge, Notice, Page } from '../components/ui.tsx'
import { formatTime } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { ERROR_TYPE_NAMES } from '../queries.ts'

/** Rows kept on screen; older ones drop off. */
const KEPT = 200

type Row =
  | { kind: 'event'; key: string; at: string; id: string; type: string; source: string; data: unknown }
  | {
      kind: 'attempt'
      key: string
      at: string
      id: string
      event: string
      status: string
      target: string
      webhookId: string | null
      code: number | null
      timeMs: number | null
      errorType: string | null
    }

const EVENTS = 'subscription LiveEvents($types: [String!]) { events(types: $types) { id type source createdAt data } }'
const ATTEMPTS = `subscription LiveDeliveries($webhookId: ID) { deliveryUpdates(webhookId: $webhookId) {
  id event status webhookId integration webhook { name }
  lastAttempt { number startedAt responseCode responseTimeMs errorType } } }`

/** Whether an event type matches one of the patterns (an exact name, `order.*` or `*`); none matches all. */
function matches(patterns: string[], type: string): boolean {
  if (!patterns.length) return true
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))))
}

export function Live() {
  const hooks = useQuery<{ webhooks: { edges: { node: { id: string; name: string } }[] } }>(
    'query LiveWebhooks { webhooks(first: 100) { edges { node { id name } } } }',
  )
  const [pattern, setPattern] = useState('')
  const [applied, setApplied] = useState('')
  const [webhookId, setWebhookId] = useState('')
  const [paused, setPaused] = useState(false)
  const [rows, setRows] = useState<Row[]>([])
  const [held, setHeld] = useState<Row[]>([])
  const [error, setError] = useState<string>()
  const pausedRef = useRef(paused)
  pausedRef.current = paused

  const add = (row: Row) => {
    if (pausedRef.current) setHeld((rows) => [row, ...rows].slice(0, KEPT))
    else setRows((rows) => [row, ...rows].slice(0, KEPT))
  }

  useEffect(() => {
    setError(undefined)
    setRows([])
    setHeld([])
    const types = applied
      .split(/[\s,]+/)
      .map((t) => t.trim())
      .filter(Boolean)
    const stopEvents = subscribe<{
      events: { id: string; type: string; source: string; createdAt: string; data: unknown }
    }>(
      EVENTS,
      { types: types.length ? types : undefined },
      ({ events: e }) =>
        add({
          kind: 'event',
          key: `e-${e.id}`,
          at: e.createdAt,
          id: e.id,
          type: e.type,
          source: e.source,
          data: e.data,
        }),
      setError,
    )
    const stopAttempts = subscribe<{
      deliveryUpdates: {
        id: string
        event: string
        status: string
        webhookId: string | null
        integration: string | null
        webhook: { name: string } | null
        lastAttempt: {
          number: number
          startedAt: string
          responseCode: number | null
          responseTimeMs: number
          errorType: string | null
        } | null
      }
    }>(
      ATTEMPTS,
      { webhookId: webhookId || undefined },
      ({ deliveryUpdates: d }) =>
        matches(types, d.event) &&
        add({
          kind: 'attempt',
          key: `a-${d.id}-${d.lastAttempt?.number ?? 0}-${d.status}`,
          at: d.lastAttempt?.startedAt ?? new Date().toISOString(),
          id: d.id,
          event: d.event,
          status: d.status,
          target: d.webhook?.name ?? d.integration ?? '—',
          webhookId: d.webhookId,
          code: d.lastAttempt?.responseCode ?? null,
          timeMs: d.lastAttempt?.responseTimeMs ?? null,
          errorType: d.lastAttempt?.errorType ?? null,
        }),
      setError,
    )
    return () => {
      stopEvents()
      stopAttempts()
    }
  }, [applied, webhookId])

  return (
    <Page
      title="Live"
      actions={
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => {
            if (paused) {
              setRows((rows) => [...held, ...rows].slice(0, KEPT))
              setHeld([])
            }
            setPaused(!paused)
          }}
        >
          {paused ? `Resume${held.length ? ` (${held.length} new)` : ''}` : 'Pause'}
        </button>
      }
    >
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault()
          setApplied(pattern)
        }}
      >
        <label>
          Event pattern{' '}
          <input
            type="search"
            placeholder="order.*"
            value={pattern}
            onInput={(e) => setPattern(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Apply</button>
        <label>
          Webhook{' '}
          <select value={webhookId} onChange={(e) => setWebhookId(e.currentTarget.value)}>
            <option value="">All webhooks and integrations</option>
            {hooks.data?.webhooks.edges.map(({ node }) => (
              <option key={node.id} value={node.id}>
                {node.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setRows([])}>
          Clear
        </button>
      </form>
      {error && <Notice tone="bad">{error}</Notice>}
      <p class="muted" role="status">
        {paused ? 'Paused: new items are held until you resume.' : 'Listening…'} {rows.length} shown.
      </p>
      <ol class="live" aria-label="Live stream" aria-live="off">
        {rows.map((row) =>
          row.kind === 'event' ? (
            <li key={row.key} class="live-event">
              <time dateTime={row.at}>{formatTime(row.at)}</time>
              <span class="badge neutral">event</span>
              <code>{row.type}</code>
              <span class="muted id">{row.id}</span>
              <span class="muted payload">{JSON.stringify(row.data).slice(0, 120)}</span>
            </li>
          ) : (
            <li key={row.key} class="live-attempt">
              <time dateTime={row.at}>{formatTime(row.at)}</time>
              <DeliveryStatusBadge status={row.status} />
              <code>{row.event}</code>
              <span>→ {row.webhookId ? <a href={`/webhooks/${row.webhookId}`}>{row.target}</a> : row.target}</span>
              <span class="muted">
                {row.code
                  ? `HTTP ${row.code}`
                  : row.errorType
                    ? (ERROR_TYPE_NAMES[row.errorType] ?? row.errorType)
                    : ''}
                {row.timeMs !== null && ` · ${row.timeMs} ms`}
              </span>
            </li>
          ),
        )}
      </ol>
    </Page>
  )
}
