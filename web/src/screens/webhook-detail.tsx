// One webhook: its actions, its stats chart, its delivery log with attempts and retries, and replay.
import { useEffect, useState } from 'preact/hooks'
import { useLocation, useRoute } from 'preact-iso'
import { gql, subscribe } from '../api.ts'
import { type Bucket, DeliveriesChart } from '../components/chart.tsx'
import {
  ConfirmButton,
  type Cursor,
  DeliveryStatusBadge,
  Field,
  FilterInput,
  JsonBlock,
  Loading,
  Notice,
  Page,
  Pager,
  Panel,
  pageArgs,
  Stat,
  useAction,
  WebhookStatusBadge,
} from '../components/ui.tsx'
import { ago, count, formatDateTime, json, ms, parseJsonField, percent, toLocalInput } from '../format.ts'
import { useDebounced, useQuery } from '../hooks.ts'
import {
  type Connection,
  DELIVERY_STATUSES,
  ERROR_TYPE_NAMES,
  PAGE_INFO,
  PAYLOAD_FORMATS,
  type PayloadFormat,
  WEBHOOK_ROW,
  type WebhookRow,
} from '../queries.ts'
import { useSession } from '../session.tsx'
import { GroupByChoice } from './overview.tsx'
import { SecretOnce } from './webhook-form.tsx'

const PAGE_SIZE = 20

const WEBHOOK = `query Webhook($id: ID!) { webhook(id: $id) { ${WEBHOOK_ROW} filters previousSecretExpiresAt
  payloadFormat transform rateLimitPerSecond orderingKey
  retryPolicy { maxRetries scheduleMs } } }`

const STATS = `query WebhookStats($id: ID!, $groupBy: StatsGroupBy!) {
  webhookStats(id: $id, groupBy: $groupBy) {
    summary { totalEvents successfulDeliveries failedDeliveries pendingDeliveries successRate avgResponseTimeMs p95ResponseTimeMs totalRetries }
    timeSeries { bucket successful failed }
    errorBreakdown { errorType count percentage }
  }
}`

const ATTEMPT = 'number startedAt responseCode responseTimeMs errorType errorMessage responseBody nextRetryAt'

const DELIVERIES = `query WebhookDeliveries($webhookId: ID!, $status: DeliveryStatus, $event: String,
    $first: Int, $after: String, $last: Int, $before: String) {
  deliveries(webhookId: $webhookId, status: $status, event: $event, first: $first, after: $after, last: $last, before: $before) {
    summary { total successful failed pending pendingRetry }
    edges { node { id event eventId status createdAt attemptCount nextRetryAt isTest parked payload orderingKey heldBy
      lastAttempt { responseCode responseTimeMs errorType }
      attempts { ${ATTEMPT} } } }
    ${PAGE_INFO}
  }
}`

interface Attempt {
  number: number
  startedAt: string
  responseCode: number | null
  responseTimeMs: number
  errorType: string | null
  errorMessage: string | null
  responseBody: string | null
  nextRetryAt: string | null
}

interface DeliveryRow {
  id: string
  event: string
  eventId: string
  status: string
  createdAt: string
  attemptCount: number
  nextRetryAt: string | null
  isTest: boolean
  parked: boolean
  payload: unknown
  orderingKey: string | null
  heldBy: string | null
  lastAttempt: { responseCode: number | null; responseTimeMs: number; errorType: string | null } | null
  attempts: Attempt[]
}

interface Stats {
  summary: {
    totalEvents: number
    successfulDeliveries: number
    failedDeliveries: number
    pendingDeliveries: number
    successRate: number | null
    avgResponseTimeMs: number | null
    p95ResponseTimeMs: number | null
    totalRetries: number
  }
  timeSeries: Bucket[]
  errorBreakdown: { errorType: string; count: number; percentage: number }[]
}

export function WebhookDetail() {
  const { params } = useRoute()
  const id = params.id ?? ''
  const hook = useQuery<{
    webhook: WebhookRow & {
      filters: unknown
      previousSecretExpiresAt: string | null
      payloadFormat: PayloadFormat
      transform: string | null
      rateLimitPerSecond: number | null
      orderingKey: string | null
    }
  }>(WEBHOOK, {
    id,
  })
  const [groupBy, setGroupBy] = useState<'HOUR' | 'DAY'>('HOUR')
  const stats = useQuery<{ webhookStats: Stats }>(STATS, { id, groupBy })
  const [status, setStatus] = useState('')
  const [event, setEvent] = useState('')
  const [cursor, setCursor] = useState<Cursor>({})
  const log = useQuery<{ deliveries: Connection<DeliveryRow> & { summary: Record<string, number> } }>(DELIVERIES, {
    webhookId: id,
    status: status || undefined,
    event: event || undefined,
    ...pageArgs(cursor, PAGE_SIZE),
  })

  const refresh = useDebounced(() => {
    hook.reload()
    stats.reload()
    log.reload()
  }, 300)
  useEffect(
    () =>
      subscribe(
        'subscription WebhookUpdates($webhookId: ID!) { deliveryUpdates(webhookId: $webhookId) { id } }',
        { webhookId: id },
        refresh,
        () => {},
      ),
    [id, refresh],
  )

  if (hook.error) return <Notice tone="bad">{hook.error}</Notice>
  if (!hook.data) return <Loading what="the webhook" />
  const webhook = hook.data.webhook

  return (
    <Page title={webhook.name} actions={<WebhookActions webhook={webhook} onChange={refresh} />}>
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <WebhookStatusBadge hook={webhook} />
          </dd>
        </div>
        <div>
          <dt>URL</dt>
          <dd class="url">{webhook.url}</dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>
            {webhook.events.map((pattern) => (
              <code key={pattern} class="tag">
                {pattern}
              </code>
            ))}
          </dd>
        </div>
        <div>
          <dt>Secret</dt>
          <dd>
            <code>{webhook.secretHint}</code>
            {webhook.previousSecretExpiresAt && (
              <small class="muted">
                {' '}
                previous secret valid until {formatDateTime(webhook.previousSecretExpiresAt)}
              </small>
            )}
          </dd>
        </div>
        {webhook.description && (
          <div>
            <dt>Description</dt>
            <dd>{webhook.description}</dd>
          </div>
        )}
        {webhook.rateLimitPerSecond !== null && (
          <div>
            <dt>Rate limit</dt>
            <dd>at most {webhook.rateLimitPerSecond} requests in any second</dd>
          </div>
        )}
        {webhook.orderingKey !== null && (
          <div>
            <dt>Ordered by</dt>
            <dd>
              <code>{webhook.orderingKey}</code> <small class="muted">in publish order for each value</small>
            </dd>
          </div>
        )}
        {webhook.filters ? (
          <div>
            <dt>Filters</dt>
            <dd>
              <JsonBlock value={webhook.filters} label="Filters" />
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Payload format</dt>
          <dd>{PAYLOAD_FORMATS[webhook.payloadFormat].label}</dd>
        </div>
        {webhook.transform !== null && (
          <div>
            <dt>Transform</dt>
            <dd>
              <pre class="json" title="Transform">
                {webhook.transform}
              </pre>
            </dd>
          </div>
        )}
      </dl>

      <Panel title="Deliveries over time" actions={<GroupByChoice value={groupBy} onChange={setGroupBy} />}>
        {stats.error && <Notice tone="bad">{stats.error}</Notice>}
        {stats.data && !stats.stale ? (
          <StatsView stats={stats.data.webhookStats} groupBy={groupBy} />
        ) : (
          !stats.error && <Loading what="stats" />
        )}
      </Panel>

      <Panel title="Delivery log" actions={<ReplayFailed webhookId={webhook.id} onDone={refresh} />}>
        <div class="toolbar">
          <label>
            Status{' '}
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.currentTarget.value)
                setCursor({})
              }}
            >
              <option value="">All</option>
              {DELIVERY_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.toLowerCase()}
                </option>
              ))}
            </select>
          </label>
          <FilterInput
            label="Event"
            placeholder="order.created or order.*"
            onApply={(value) => {
              setEvent(value)
              setCursor({})
            }}
          />
          {log.data && <LogSummary summary={log.data.deliveries.summary} />}
        </div>
        {log.error && <Notice tone="bad">{log.error}</Notice>}
        {!log.data ? (
          <Loading what="deliveries" />
        ) : log.data.deliveries.edges.length === 0 ? (
          <p class="muted">No deliveries{status || event ? ' match' : ' yet'}.</p>
        ) : (
          <>
            <ul class="deliveries" aria-label="Deliveries">
              {log.data.deliveries.edges.map(({ node }) => (
                <DeliveryItem key={node.id} delivery={node} onRetried={refresh} />
              ))}
            </ul>
            <Pager pageInfo={log.data.deliveries.pageInfo} onPage={setCursor} label="Delivery pages" />
          </>
        )}
      </Panel>

      <PayloadPreview webhookId={webhook.id} events={webhook.events} />
    </Page>
  )
}

function LogSummary({ summary }: { summary: Record<string, number> }) {
  const total = summary.total ?? 0
  return (
    <span class="muted">
      {count(total)} deliver{total === 1 ? 'y' : 'ies'} · {summary.successful} succeeded · {summary.failed} failed ·{' '}
      {summary.pendingRetry} retrying · {summary.pending} pending
    </span>
  )
}

function StatsView({ stats, groupBy }: { stats: Stats; groupBy: 'HOUR' | 'DAY' }) {
  const { summary } = stats
  return (
    <>
      <dl class="stats">
        <Stat label="Deliveries" value={count(summary.totalEvents)} hint={`${summary.pendingDeliveries} pending`} />
        <Stat label="Success rate" value={percent(summary.successRate)} hint={`${summary.failedDeliveries} failed`} />
        <Stat label="p95" value={ms(summary.p95ResponseTimeMs)} hint={`average ${ms(summary.avgResponseTimeMs)}`} />
        <Stat label="Retries" value={count(summary.totalRetries)} />
      </dl>
      <DeliveriesChart
        buckets={stats.timeSeries}
        label={groupBy === 'HOUR' ? 'Deliveries per hour, last 48 hours' : 'Deliveries per day, last 30 days'}
      />
      {stats.errorBreakdown.length > 0 && (
        <p class="muted">
          Errors:{' '}
          {stats.errorBreakdown
            .map((e) => `${ERROR_TYPE_NAMES[e.errorType] ?? e.errorType} ${e.count} (${percent(e.percentage)})`)
            .join(' · ')}
        </p>
      )}
    </>
  )
}

function WebhookActions({ webhook, onChange }: { webhook: WebhookRow; onChange(): void }) {
  const { canWrite } = useSession()
  const { route } = useLocation()
  const action = useAction()
  const [secret, setSecret] = useState<string>()
  const [test, setTest] = useState<TestResult>()
  if (!canWrite) return null
  const id = webhook.id
  return (
    <>
      <a class="button" href={`/webhooks/${id}/edit`}>
        Edit
      </a>
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          action.run(async () => {
            setTest(undefined)
            const { testWebhook } = await gql<{ testWebhook: TestResult }>(
              `mutation TestWebhook($id: ID!) { testWebhook(id: $id) {
                status responseCode responseTimeMs errorType errorMessage responseBody bodySent } }`,
              { id },
            )
            setTest(testWebhook)
            onChange()
          })
        }
      >
        Send test
      </button>
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          action.run(async () => {
            await gql(
              'mutation SetActive($id: ID!, $active: Boolean!) { setWebhookActive(id: $id, active: $active) { id } }',
              {
                id,
                active: !webhook.isActive,
              },
            )
            onChange()
            return webhook.isActive ? 'Disabled: it receives nothing until enabled.' : 'Enabled.'
          })
        }
      >
        {webhook.isActive ? 'Disable' : 'Enable'}
      </button>
      <ConfirmButton
        label="Rotate secret"
        question="Rotate the signing secret? For the next 24 hours deliveries carry both the old and the new signature."
        confirmLabel="Rotate"
        onConfirm={() =>
          action.run(async () => {
            const { rotateWebhookSecret } = await gql<{ rotateWebhookSecret: { secret: string } }>(
              'mutation Rotate($id: ID!) { rotateWebhookSecret(id: $id) { secret } }',
              { id },
            )
            setSecret(rotateWebhookSecret.secret)
            onChange()
          })
        }
      />
      <ConfirmButton
        label="Delete"
        danger
        question={`Delete the webhook "${webhook.name}" and its delivery log? This cannot be undone.`}
        confirmLabel="Delete webhook"
        onConfirm={() =>
          action.run(async () => {
            await gql('mutation Delete($id: ID!) { deleteWebhook(id: $id) }', { id })
            route('/webhooks')
          })
        }
      />
      <div class="action-feedback">
        {action.feedback}
        {secret && <SecretOnce secret={secret} />}
        {test && <TestResultView result={test} />}
      </div>
    </>
  )
}

interface TestResult {
  status: string
  responseCode: number | null
  responseTimeMs: number
  errorType: string | null
  errorMessage: string | null
  responseBody: string | null
  bodySent: string | null
}

function TestResultView({ result }: { result: TestResult }) {
  return (
    <Notice tone={result.status === 'SUCCEEDED' ? 'good' : 'bad'}>
      Test delivery {result.status.toLowerCase()}: {result.responseCode ? `HTTP ${result.responseCode}` : 'no answer'}{' '}
      in {result.responseTimeMs} ms
      {result.errorType &&
        ` (${ERROR_TYPE_NAMES[result.errorType] ?? result.errorType}${result.errorMessage ? `: ${result.errorMessage}` : ''})`}
      {result.bodySent !== null && (
        <>
          <h3>Body sent</h3>
          <pre class="body" title="Body sent">
            {result.bodySent}
          </pre>
        </>
      )}
      {result.responseBody && (
        <>
          <h3>Response</h3>
          <pre class="body" title="Response body">
            {result.responseBody}
          </pre>
        </>
      )}
    </Notice>
  )
}

function DeliveryItem({ delivery, onRetried }: { delivery: DeliveryRow; onRetried(): void }) {
  const { canWrite } = useSession()
  const action = useAction()
  const last = delivery.lastAttempt
  return (
    <li class="delivery" id={`delivery-${delivery.id}`}>
      <details>
        <summary>
          <DeliveryStatusBadge status={delivery.status} />
          <code>{delivery.event}</code>
          {delivery.isTest && <span class="badge neutral">test</span>}
          {delivery.parked && <span class="badge warn">waiting for the webhook</span>}
          {delivery.orderingKey !== null && (
            <code class="tag" title="Its ordering key">
              {delivery.orderingKey}
            </code>
          )}
          {delivery.heldBy && (
            <span class="badge warn" title="Held back by an earlier delivery of its ordering key, which failed first">
              held
            </span>
          )}
          <span class="muted">{formatDateTime(delivery.createdAt)}</span>
          <span class="muted">
            {delivery.attemptCount} attempt{delivery.attemptCount === 1 ? '' : 's'}
            {last &&
              ` · ${last.responseCode ? `HTTP ${last.responseCode}` : (ERROR_TYPE_NAMES[last.errorType ?? ''] ?? 'no answer')} · ${last.responseTimeMs} ms`}
            {delivery.nextRetryAt && ` · next retry ${ago(delivery.nextRetryAt)}`}
          </span>
        </summary>
        <div class="delivery-body">
          <p class="muted">
            Delivery <code>{delivery.id}</code> of event <code>{delivery.eventId}</code>
          </p>
          {delivery.orderingKey !== null && (
            <p class="muted">
              Ordering key <code>{delivery.orderingKey}</code>
              {delivery.heldBy && (
                <>
                  : held by <HeldBy id={delivery.heldBy} />, an earlier delivery of the same key that failed; this one
                  waited until it succeeded or ended.
                </>
              )}
            </p>
          )}
          {delivery.attempts.length === 0 ? (
            <p class="muted">Not attempted yet.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <caption>Attempts</caption>
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">Time</th>
                    <th scope="col">Code</th>
                    <th scope="col">Duration</th>
                    <th scope="col">Error</th>
                    <th scope="col">Response body</th>
                  </tr>
                </thead>
                <tbody>
                  {delivery.attempts.map((attempt) => (
                    <tr key={attempt.number}>
                      <td>{attempt.number}</td>
                      <td>{formatDateTime(attempt.startedAt)}</td>
                      <td>{attempt.responseCode ?? '—'}</td>
                      <td>{ms(attempt.responseTimeMs)}</td>
                      <td>
                        {attempt.errorType ? (ERROR_TYPE_NAMES[attempt.errorType] ?? attempt.errorType) : '—'}
                        {attempt.errorMessage && <small class="muted"> {attempt.errorMessage}</small>}
                      </td>
                      <td>{attempt.responseBody ? <pre class="body">{attempt.responseBody}</pre> : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <details>
            <summary>Payload</summary>
            <JsonBlock value={delivery.payload} label="Payload" />
          </details>
        </div>
      </details>
      {canWrite && !delivery.isTest && (
        <div class="delivery-actions">
          <button
            type="button"
            aria-label={`Retry delivery of ${delivery.event} from ${formatDateTime(delivery.createdAt)}`}
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                await gql('mutation Retry($id: ID!) { retryDelivery(id: $id) { id } }', { id: delivery.id })
                onRetried()
                return 'Queued again.'
              })
            }
          >
            Retry
          </button>
          {action.feedback}
        </div>
      )}
    </li>
  )
}

interface Holder {
  event: string
  status: string
  createdAt: string
  attemptCount: number
}

/**
 * A link to the delivery that held another back: on this page of the log, it opens there; on another,
 * what it was is loaded and said here.
 */
function HeldBy({ id }: { id: string }) {
  const [holder, setHolder] = useState<Holder>()
  const [error, setError] = useState<string>()
  return (
    <>
      <a
        href={`#delivery-${id}`}
        onClick={(click) => {
          const shown = document.getElementById(`delivery-${id}`)?.querySelector('details')
          if (shown) {
            shown.open = true
            return
          }
          click.preventDefault()
          gql<{ delivery: Holder }>(
            'query Holder($id: ID!) { delivery(id: $id) { event status createdAt attemptCount } }',
            { id },
          ).then(
            ({ delivery }) => setHolder(delivery),
            (failure: Error) => setError(failure.message),
          )
        }}
      >
        delivery <code>{id}</code>
      </a>
      {holder && (
        <>
          {' '}
          (<code>{holder.event}</code> of {formatDateTime(holder.createdAt)}, {holder.status.toLowerCase()} after{' '}
          {holder.attemptCount} attempt{holder.attemptCount === 1 ? '' : 's'}; on another page of the log)
        </>
      )}
      {error && <span role="alert"> ({error})</span>}
    </>
  )
}

function ReplayFailed({ webhookId, onDone }: { webhookId: string; onDone(): void }) {
  const { canWrite } = useSession()
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 86_400_000)))
  const action = useAction()
  if (!canWrite) return null
  return (
    <form
      class="inline-form"
      onSubmit={(event) => {
        event.preventDefault()
        action.run(async () => {
          const { replayDeliveries } = await gql<{ replayDeliveries: number }>(
            'mutation Replay($webhookId: ID!, $since: DateTime!) { replayDeliveries(webhookId: $webhookId, since: $since) }',
            { webhookId, since: new Date(since).toISOString() },
          )
          onDone()
          return `${replayDeliveries} failed deliver${replayDeliveries === 1 ? 'y' : 'ies'} queued again.`
        })
      }}
    >
      <label>
        Replay failed since{' '}
        <input type="datetime-local" required value={since} onInput={(e) => setSince(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={action.busy}>
        Replay
      </button>
      {action.feedback}
    </form>
  )
}

const PREVIEW = `query PreviewPayload($id: ID!, $event: String, $payload: JSON) {
  previewWebhookPayload(id: $id, event: $event, payload: $payload) { event body headers } }`

interface Preview {
  event: string
  body: string
  headers: Record<string, string>
}

interface CatalogType {
  name: string
  examplePayload: unknown
}

/**
 * The request the webhook would get for an event of the catalog, made by the hub (format, transform,
 * headers, signatures) and not sent. The example payload is filled in and can be changed.
 */
function PayloadPreview({ webhookId, events }: { webhookId: string; events: string[] }) {
  const catalog = useQuery<{ eventTypes: CatalogType[] }>('query PreviewTypes { eventTypes { name examplePayload } }')
  const types = catalog.data?.eventTypes ?? []
  const [event, setEvent] = useState<string>()
  const [payload, setPayload] = useState('')
  const [payloadError, setPayloadError] = useState<string>()
  const [preview, setPreview] = useState<Preview>()
  const action = useAction()
  // The first type of the catalog the webhook receives, else the catalog's first.
  const chosen = event ?? (types.find((type) => receives(events, type.name)) ?? types[0])?.name ?? ''
  const choose = (name: string) => {
    setEvent(name)
    setPayload(exampleOf(types, name))
    setPreview(undefined)
  }
  useEffect(() => {
    if (event === undefined && chosen) choose(chosen)
  })

  return (
    <Panel title="Payload preview">
      <form
        class="form"
        onSubmit={(submitted) => {
          submitted.preventDefault()
          setPreview(undefined)
          let parsed: unknown
          try {
            parsed = parseJsonField(payload)
            setPayloadError(undefined)
          } catch (error) {
            setPayloadError(`not JSON: ${(error as Error).message}`)
            return
          }
          action.run(async () => {
            const { previewWebhookPayload } = await gql<{ previewWebhookPayload: Preview }>(PREVIEW, {
              id: webhookId,
              event: chosen || undefined,
              payload: parsed,
            })
            setPreview(previewWebhookPayload)
          })
        }}
      >
        <label>
          Event type{' '}
          <select value={chosen} onChange={(changed) => choose(changed.currentTarget.value)}>
            {types.map((type) => (
              <option key={type.name} value={type.name}>
                {type.name}
              </option>
            ))}
          </select>
        </label>
        <Field
          label="Payload (JSON)"
          hint="The event type's example payload; change it to see another body. Empty: the example."
          error={payloadError}
        >
          {(props) => (
            <textarea
              {...props}
              rows={6}
              class="code"
              spellcheck={false}
              value={payload}
              onInput={(typed) => setPayload(typed.currentTarget.value)}
            />
          )}
        </Field>
        <div class="actions">
          <button type="submit" disabled={action.busy || !chosen}>
            Preview
          </button>
        </div>
      </form>
      {action.feedback}
      {preview && (
        <div>
          <h3>Body</h3>
          <pre class="json" title={`Body of ${preview.event}`}>
            {preview.body}
          </pre>
          <div class="table-wrap">
            <table>
              <caption>Headers</caption>
              <tbody>
                {Object.entries(preview.headers).map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      <code>{value}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Panel>
  )
}

/**
 * Whether event patterns take a type: the hub's rule (src/events/matching.ts, `matchesPattern`), which the
 * page cannot import; here it only picks the preview's first choice.
 */
const receives = (patterns: string[], type: string) =>
  patterns.some(
    (pattern) =>
      pattern === '*' || pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  )

const exampleOf = (types: CatalogType[], name: string) => {
  const example = types.find((type) => type.name === name)?.examplePayload
  return example === undefined || example === null ? '' : json(example)
}
