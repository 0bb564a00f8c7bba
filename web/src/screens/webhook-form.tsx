// Create or edit a webhook. Each error the hub names a field for is shown next to that field.
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useLocation, useRoute } from 'preact-iso'
import { ApiError, gql } from '../api.ts'
import { Field, Loading, Notice, Page, Panel } from '../components/ui.tsx'
import { json, parseJsonField } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { PAYLOAD_FORMATS, type PayloadFormat } from '../queries.ts'
import { useSession } from '../session.tsx'

const EDITABLE = `id name url description events filters headers payloadFormat transform
  timeoutMs connectTimeoutMs maxConcurrency rateLimitPerSecond orderingKey
  retryPolicy { maxRetries retryDelayMs backoffMultiplier }`

interface Editable {
  id: string
  name: string
  url: string
  description: string
  events: string[]
  filters: unknown
  headers: Record<string, string>
  payloadFormat: PayloadFormat
  transform: string | null
  timeoutMs: number
  connectTimeoutMs: number
  maxConcurrency: number
  rateLimitPerSecond: number | null
  orderingKey: string | null
  retryPolicy: { maxRetries: number; retryDelayMs: number | null; backoffMultiplier: number | null }
}

interface Form {
  name: string
  url: string
  description: string
  events: string
  filters: string
  headers: string
  payloadFormat: PayloadFormat
  transform: string
  timeoutMs: string
  connectTimeoutMs: string
  maxConcurrency: string
  rateLimitPerSecond: string
  orderingKey: string
  maxRetries: string
  retryDelayMs: string
  backoffMultiplier: string
}

const EMPTY: Form = {
  name: '',
  url: '',
  description: '',
  events: '*',
  filters: '',
  headers: '',
  payloadFormat: 'STANDARD',
  transform: '',
  timeoutMs: '',
  connectTimeoutMs: '',
  maxConcurrency: '',
  rateLimitPerSecond: '',
  orderingKey: '',
  maxRetries: '',
  retryDelayMs: '',
  backoffMultiplier: '',
}

function formOf(hook: Editable): Form {
  const text = (value: number | null) => (value === null ? '' : String(value))
  return {
    name: hook.name,
    url: hook.url,
    description: hook.description,
    events: hook.events.join(', '),
    filters: hook.filters ? json(hook.filters) : '',
    headers: '',
    payloadFormat: hook.payloadFormat,
    transform: hook.transform ?? '',
    timeoutMs: text(hook.timeoutMs),
    connectTimeoutMs: text(hook.connectTimeoutMs),
    maxConcurrency: text(hook.maxConcurrency),
    rateLimitPerSecond: text(hook.rateLimitPerSecond),
    orderingKey: hook.orderingKey ?? '',
    maxRetries: text(hook.retryPolicy.maxRetries),
    retryDelayMs: text(hook.retryPolicy.retryDelayMs),
    backoffMultiplier: text(hook.retryPolicy.backoffMultiplier),
  }
}

type Errors = Partial<Record<keyof Form | 'form', string>>

/** The hub's field names, mapped to the form's. */
const FIELD_OF: Record<string, keyof Form> = {
  retryPolicy: 'maxRetries',
  'retryPolicy.maxRetries': 'maxRetries',
  'retryPolicy.retryDelayMs': 'retryDelayMs',
  'retryPolicy.backoffMultiplier': 'backoffMultiplier',
}

/** The fields inside "Retries, timeouts, rate limit and ordering", opened when one of them has an error. */
const ADVANCED: (keyof Form)[] = [
  'maxRetries',
  'retryDelayMs',
  'backoffMultiplier',
  'timeoutMs',
  'connectTimeoutMs',
  'maxConcurrency',
  'rateLimitPerSecond',
  'orderingKey',
]

export function WebhookForm() {
  const { params } = useRoute()
  const id = params.id
  const loaded = useQuery<{ webhook: Editable }>(
    id ? `query EditWebhook($id: ID!) { webhook(id: $id) { ${EDITABLE} } }` : 'query NewWebhook { viewer { tenant } }',
    id ? { id } : {},
  )
  if (id && loaded.error) return <Notice tone="bad">{loaded.error}</Notice>
  if (id && !loaded.data?.webhook) return <Loading what="the webhook" />
  return <WebhookEditor key={id ?? 'new'} existing={id ? loaded.data?.webhook : undefined} />
}

function WebhookEditor({ existing }: { existing: Editable | undefined }) {
  const { canWrite } = useSession()
  const { route } = useLocation()
  const initial = existing ? formOf(existing) : EMPTY
  const [form, setForm] = useState<Form>(initial)
  const [errors, setErrors] = useState<Errors>({})
  const [busy, setBusy] = useState(false)
  const [created, setCreated] = useState<{ id: string; secret: string }>()

  useEffect(() => {
    if (!canWrite) route(existing ? `/webhooks/${existing.id}` : '/webhooks', true)
  }, [canWrite, existing, route])

  const set = (name: keyof Form) => (event: Event) =>
    setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value })

  function input(): Record<string, unknown> | undefined {
    const found: Errors = {}
    const number = (name: keyof Form) => {
      if (form[name].trim() === '') return undefined
      const value = Number(form[name])
      if (!Number.isFinite(value)) found[name] = 'a number'
      return value
    }
    const jsonOf = (name: 'filters' | 'headers') => {
      try {
        return parseJsonField(form[name])
      } catch (error) {
        found[name] = `not JSON: ${(error as Error).message}`
      }
    }
    const changed = (name: keyof Form) => !existing || form[name] !== initial[name]
    const result: Record<string, unknown> = {
      name: form.name.trim(),
      url: form.url.trim(),
      description: form.description,
      events: splitPatterns(form.events),
      timeoutMs: number('timeoutMs'),
      connectTimeoutMs: number('connectTimeoutMs'),
      maxConcurrency: number('maxConcurrency'),
    }
    // Emptied, they are turned off.
    if (changed('rateLimitPerSecond')) result.rateLimitPerSecond = number('rateLimitPerSecond') ?? null
    if (changed('orderingKey')) result.orderingKey = form.orderingKey.trim() || null
    if (changed('filters')) result.filters = jsonOf('filters') ?? null
    if (form.headers.trim()) result.headers = jsonOf('headers')
    if (changed('payloadFormat')) result.payloadFormat = form.payloadFormat
    // Emptied, it is removed.
    if (changed('transform') && (existing || form.transform.trim())) result.transform = form.transform.trim() || null
    if (changed('maxRetries') || changed('retryDelayMs') || changed('backoffMultiplier')) {
      result.retryPolicy = {
        maxRetries: number('maxRetries'),
        retryDelayMs: number('retryDelayMs'),
        backoffMultiplier: number('backoffMultiplier'),
      }
    }
    setErrors(found)
    return Object.keys(found).length ? undefined : result
  }

  async function submit(event: Event) {
    event.preventDefault()
    const values = input()
    if (!values) return
    setBusy(true)
    try {
      if (existing) {
        await gql(
          'mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { id } }',
          {
            id: existing.id,
            input: values,
          },
        )
        route(`/webhooks/${existing.id}`)
      } else {
        const { createWebhook } = await gql<{ createWebhook: { secret: string; webhook: { id: string } } }>(
          'mutation CreateWebhook($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }',
          { input: values },
        )
        setCreated({ id: createWebhook.webhook.id, secret: createWebhook.secret })
      }
    } catch (error) {
      const field = error instanceof ApiError && error.field ? (FIELD_OF[error.field] ?? error.field) : undefined
      setErrors(field && field in EMPTY ? { [field]: (error as Error).message } : { form: (error as Error).message })
    } finally {
      setBusy(false)
    }
  }

  if (created) {
    return (
      <Page title="Webhook created">
        <SecretOnce secret={created.secret} />
        <a class="button primary" href={`/webhooks/${created.id}`}>
          Go to the webhook
        </a>
      </Page>
    )
  }

  const text = (
    name: keyof Form,
    label: string,
    hint?: string,
    type: 'text' | 'url' | 'number' = 'text',
    required = false,
  ) => (
    <Field label={label} hint={hint} error={errors[name]}>
      {(props) => (
        <input
          {...props}
          name={name}
          type={type as 'text'}
          required={required}
          value={form[name]}
          onInput={set(name)}
        />
      )}
    </Field>
  )
  const area = (name: keyof Form, label: string, hint: ComponentChildren, placeholder?: string) => (
    <Field label={label} hint={hint} error={errors[name]}>
      {(props) => (
        <textarea
          {...props}
          name={name}
          rows={5}
          class="code"
          spellcheck={false}
          placeholder={placeholder}
          value={form[name]}
          onInput={set(name)}
        />
      )}
    </Field>
  )

  return (
    <Page title={existing ? `Edit ${existing.name}` : 'Create webhook'}>
      <form class="form" onSubmit={submit} noValidate>
        {errors.form && <Notice tone="bad">{errors.form}</Notice>}
        {text('name', 'Name', undefined, 'text', true)}
        {text('url', 'URL', 'Where the hub POSTs each event (http or https).', 'url', true)}
        {text('description', 'Description')}
        {text(
          'events',
          'Event patterns',
          'Separated by commas: an exact name (order.created), order.* or *.',
          'text',
          true,
        )}
        <EventPicker value={form.events} onChange={(events) => setForm({ ...form, events })} />
        {area(
          'filters',
          'Filters (JSON)',
          'Payload conditions, all of which must hold. Leave empty to receive every matching event.',
          '{ "status": ["confirmed"], "amount": { "$gte": 100 } }',
        )}
        {area(
          'headers',
          'Headers (JSON)',
          existing
            ? `Header names to values, sent with every delivery. Leave empty to keep the current ones (${Object.keys(existing.headers).join(', ') || 'none'}).`
            : 'Header names to values, sent with every delivery; stored sealed.',
          '{ "X-Api-Key": "…" }',
        )}
        <Field label="Payload format" hint={PAYLOAD_FORMATS[form.payloadFormat].hint} error={errors.payloadFormat}>
          {(props) => (
            <select
              {...props}
              name="payloadFormat"
              value={form.payloadFormat}
              onChange={(event) => setForm({ ...form, payloadFormat: event.currentTarget.value as PayloadFormat })}
            >
              {Object.entries(PAYLOAD_FORMATS).map(([value, { label }]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {area(
          'transform',
          'Transform (JSONata)',
          <>
            An expression over <code>{'{ id, type, createdAt, data }'}</code> whose result is the body sent, in place of
            the format's body. Leave empty to send the format's body.
          </>,
          '{ "kind": type, "order": data.order_id }',
        )}
        <details open={ADVANCED.some((name) => errors[name]) || undefined}>
          <summary>Retries, timeouts, rate limit and ordering</summary>
          <div class="grid">
            {text('maxRetries', 'Retries', '0 to 20; default 7.', 'number')}
            {text('retryDelayMs', 'First retry delay (ms)', 'Empty: the Standard Webhooks schedule.', 'number')}
            {text('backoffMultiplier', 'Backoff multiplier', '1 to 10.', 'number')}
            {text('timeoutMs', 'Timeout (ms)', '500 to 60000; default 15000.', 'number')}
            {text('connectTimeoutMs', 'Connect timeout (ms)', '100 to 30000; default 5000.', 'number')}
            {text(
              'maxConcurrency',
              'Concurrency',
              'Attempts in flight at once, across all workers, 1 to 50; default 50.',
              'number',
            )}
            {text(
              'rateLimitPerSecond',
              'Rate limit (per second)',
              'The most requests in any second, 1 to 1000. Empty: no limit.',
              'number',
            )}
            {text(
              'orderingKey',
              'Ordering key',
              'A payload path (order_id, customer.id): events with the same value arrive in publish order. Empty: unordered.',
            )}
          </div>
        </details>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {existing ? 'Save changes' : 'Create webhook'}
          </button>
          <a class="button" href={existing ? `/webhooks/${existing.id}` : '/webhooks'}>
            Cancel
          </a>
        </div>
      </form>
    </Page>
  )
}

const splitPatterns = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((pattern) => pattern.trim())
    .filter(Boolean)

/** The catalog's event types as checkboxes, each adding its name to the patterns or taking it out. */
function EventPicker({ value, onChange }: { value: string; onChange(value: string): void }) {
  const catalog = useQuery<{ eventTypes: { name: string; description: string; deprecated: boolean }[] }>(
    'query EventNames { eventTypes { name description deprecated } }',
  )
  const chosen = splitPatterns(value)
  const toggle = (name: string, on: boolean) =>
    onChange((on ? [...chosen.filter((p) => p !== '*'), name] : chosen.filter((p) => p !== name)).join(', '))
  return (
    <details>
      <summary>Choose from the event catalog</summary>
      <fieldset class="picker">
        <legend class="visually-hidden">Event types</legend>
        {catalog.data?.eventTypes.map((type) => (
          <label key={type.name} class="check" title={type.description}>
            <input
              type="checkbox"
              checked={chosen.includes(type.name)}
              onChange={(event) => toggle(type.name, event.currentTarget.checked)}
            />
            <code>{type.name}</code>
            {type.deprecated && <span class="badge warn">deprecated</span>}
          </label>
        ))}
      </fieldset>
    </details>
  )
}

/** A signing secret, shown this once, with a copy button. */
export function SecretOnce({ secret }: { secret: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <Panel title="Signing secret">
      <Notice tone="warn">
        Copy it now: it is shown this once. Receivers verify each delivery's signature with it.
      </Notice>
      <p class="secret">
        <code>{secret}</code>{' '}
        <button
          type="button"
          onClick={() =>
            navigator.clipboard.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </p>
    </Panel>
  )
}
