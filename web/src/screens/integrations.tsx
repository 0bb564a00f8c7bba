// Every connector with its status; a configure form generated from its configFields; a Test button.
import { useState } from 'preact/hooks'
import { useRoute } from 'preact-iso'
import { ApiError, gql } from '../api.ts'
import { Badge, Field, JsonBlock, Loading, Notice, Page, Panel, type Tone, useAction } from '../components/ui.tsx'
import { ago, json, parseJsonField, percent } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { useSession } from '../session.tsx'

const INTEGRATIONS = `query Integrations { integrations {
  name displayName description category status isConfigured isAvailable config configError inboundUrl
  messageTemplate notifications syncCount errorCount successRate lastSyncAt
  configFields { name type description required secret }
  recentActivity(limit: 5) { at event status message isTest }
} }`

interface ConfigField {
  name: string
  type: string
  description: string
  required: boolean
  secret: boolean
}

interface Integration {
  name: string
  displayName: string
  description: string
  category: string
  status: 'ACTIVE' | 'DISABLED' | 'NOT_CONFIGURED'
  isConfigured: boolean
  isAvailable: boolean
  config: Record<string, unknown> | null
  configError: string | null
  inboundUrl: string | null
  messageTemplate: string | null
  notifications: Record<string, boolean>
  syncCount: number
  errorCount: number
  successRate: number | null
  lastSyncAt: string | null
  configFields: ConfigField[]
  recentActivity: { at: string; event: string; status: string; message: string; isTest: boolean }[]
}

/** The hub's error, next to the fields it names (a config's issues, each at its path). */
function fieldErrors(error: ApiError, fields: ConfigField[]): Record<string, string> {
  const errors: Record<string, string> = {}
  for (const issue of error.issues) {
    const field = fields.find((f) => issue.path === f.name || issue.path.startsWith(`${f.name}.`))
    if (field) errors[field.name] = issue.message
  }
  if (error.field === 'notifications' || error.field === 'messageTemplate') errors[error.field] = error.message
  return errors
}

function inputType(field: ConfigField): string {
  if (field.secret) return 'password'
  return field.type === 'number' || field.type === 'url' ? field.type : 'text'
}

const STATUS: Record<Integration['status'], [Tone, string]> = {
  ACTIVE: ['good', 'active'],
  DISABLED: ['warn', 'disabled'],
  NOT_CONFIGURED: ['neutral', 'not configured'],
}

export function Integrations() {
  const { params } = useRoute()
  const list = useQuery<{ integrations: Integration[] }>(INTEGRATIONS)
  if (list.error) return <Notice tone="bad">{list.error}</Notice>
  if (!list.data) return <Loading what="integrations" />
  const open = list.data.integrations.find((integration) => integration.name === params.name)
  return (
    <Page title={open ? `Configure ${open.displayName}` : 'Integrations'}>
      {open && <Configure key={open.name} integration={open} onSaved={list.reload} />}
      <ul class="cards" aria-label="Connectors">
        {list.data.integrations.map((integration) => (
          <IntegrationCard key={integration.name} integration={integration} onChange={list.reload} />
        ))}
      </ul>
    </Page>
  )
}

function IntegrationCard({ integration, onChange }: { integration: Integration; onChange(): void }) {
  const { canWrite } = useSession()
  const action = useAction()
  const [tone, label] = STATUS[integration.status]
  return (
    <li class="card" aria-labelledby={`integration-${integration.name}`}>
      <header>
        <h2 id={`integration-${integration.name}`}>{integration.displayName}</h2>
        <Badge tone={tone}>{label}</Badge>
      </header>
      <p class="muted">
        {integration.description} · {integration.category}
      </p>
      {integration.configError && <Notice tone="bad">Its config no longer works: {integration.configError}</Notice>}
      {integration.isConfigured && (
        <dl class="facts compact">
          <div>
            <dt>Synced</dt>
            <dd>{integration.syncCount}</dd>
          </div>
          <div>
            <dt>Errors</dt>
            <dd>{integration.errorCount}</dd>
          </div>
          <div>
            <dt>Success</dt>
            <dd>{percent(integration.successRate)}</dd>
          </div>
          <div>
            <dt>Last sync</dt>
            <dd>{ago(integration.lastSyncAt)}</dd>
          </div>
          {integration.inboundUrl && (
            <div>
              <dt>Inbound URL</dt>
              <dd class="url">{integration.inboundUrl}</dd>
            </div>
          )}
        </dl>
      )}
      {integration.recentActivity.length > 0 && (
        <details>
          <summary>Recent activity</summary>
          <ul class="activity">
            {integration.recentActivity.map((item) => (
              <li key={`${item.at}-${item.event}`}>
                <Badge tone={item.status === 'success' ? 'good' : 'bad'}>{item.status}</Badge> <code>{item.event}</code>{' '}
                {item.isTest && <span class="badge neutral">test</span>} <span class="muted">{ago(item.at)}</span>{' '}
                {item.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      {canWrite && integration.isAvailable && (
        <div class="actions">
          <a
            class="button"
            href={`/integrations/${integration.name}`}
            aria-label={`Configure ${integration.displayName}`}
          >
            Configure
          </a>
          {integration.isConfigured && (
            <button
              type="button"
              aria-label={`Test ${integration.displayName}`}
              disabled={action.busy}
              onClick={() =>
                action.run(async () => {
                  const { testIntegration } = await gql<{
                    testIntegration: { status: string; message: string; responseTimeMs: number }
                  }>(
                    'mutation TestIntegration($name: String!) { testIntegration(name: $name) { status message responseTimeMs } }',
                    {
                      name: integration.name,
                    },
                  )
                  onChange()
                  if (testIntegration.status !== 'SUCCEEDED') throw new Error(`Test failed: ${testIntegration.message}`)
                  return `Test ${testIntegration.status.toLowerCase()}: ${testIntegration.message} (${testIntegration.responseTimeMs} ms)`
                })
              }
            >
              Test
            </button>
          )}
          {integration.status === 'ACTIVE' && (
            <button
              type="button"
              aria-label={`Disable ${integration.displayName}`}
              disabled={action.busy}
              onClick={() =>
                action.run(async () => {
                  await gql(
                    'mutation DisableIntegration($name: String!) { disableIntegration(name: $name) { name } }',
                    {
                      name: integration.name,
                    },
                  )
                  onChange()
                  return 'Disabled: its deliveries wait until it is enabled again.'
                })
              }
            >
              Disable
            </button>
          )}
        </div>
      )}
      {action.feedback}
    </li>
  )
}

/** The form, one control per config field; secret fields start empty and are kept when left empty. */
function Configure({ integration, onSaved }: { integration: Integration; onSaved(): void }) {
  const { canWrite } = useSession()
  const initial: Record<string, string> = {}
  for (const field of integration.configFields) {
    const value = integration.config?.[field.name]
    initial[field.name] =
      field.secret || value === undefined || value === null ? '' : typeof value === 'string' ? value : json(value)
  }
  const [values, setValues] = useState(initial)
  const [active, setActive] = useState(integration.status !== 'DISABLED')
  const [template, setTemplate] = useState(integration.messageTemplate ?? '')
  const [notifications, setNotifications] = useState(json(integration.notifications))
  const [errors, setErrors] = useState<Record<string, string>>({})
  const action = useAction()
  if (!canWrite) return <JsonBlock value={integration.config} label={`${integration.displayName} config`} />

  function config(): Record<string, unknown> | undefined {
    const found: Record<string, string> = {}
    const result: Record<string, unknown> = {}
    for (const field of integration.configFields) {
      const text = values[field.name] ?? ''
      if (text.trim() === '') {
        if (field.required && !(field.secret && integration.isConfigured)) found[field.name] = 'required'
        continue
      }
      if (field.type === 'number') result[field.name] = Number(text)
      else if (field.type === 'boolean') result[field.name] = text === 'true'
      else if (field.type === 'json') {
        try {
          result[field.name] = JSON.parse(text)
        } catch (error) {
          found[field.name] = `not JSON: ${(error as Error).message}`
        }
      } else result[field.name] = text
    }
    setErrors(found)
    return Object.keys(found).length ? undefined : result
  }

  return (
    <Panel title={`${integration.displayName} settings`}>
      <form
        class="form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault()
          const input = config()
          if (!input) return
          let parsedNotifications: unknown
          try {
            parsedNotifications = parseJsonField(notifications)
          } catch (error) {
            setErrors({ notifications: `not JSON: ${(error as Error).message}` })
            return
          }
          action.run(async () => {
            try {
              await gql(
                'mutation Configure($name: String!, $input: ConfigureIntegrationInput!) { configureIntegration(name: $name, input: $input) { integration { name } } }',
                {
                  name: integration.name,
                  input: {
                    config: input,
                    active,
                    messageTemplate: template.trim() || undefined,
                    notifications: parsedNotifications,
                  },
                },
              )
            } catch (error) {
              if (error instanceof ApiError) setErrors(fieldErrors(error, integration.configFields))
              throw error
            }
            setValues({
              ...values,
              ...Object.fromEntries(integration.configFields.filter((f) => f.secret).map((f) => [f.name, ''])),
            })
            onSaved()
            return 'Saved.'
          })
        }}
      >
        {integration.configFields.map((field) => (
          <Field
            key={field.name}
            label={`${field.name}${field.required ? '' : ' (optional)'}`}
            hint={
              field.secret && integration.isConfigured
                ? `${field.description}. Stored sealed; leave empty to keep the current value.`
                : field.description
            }
            error={errors[field.name]}
          >
            {(props) =>
              field.type === 'boolean' ? (
                <select
                  {...props}
                  value={values[field.name]}
                  onChange={(e) => setValues({ ...values, [field.name]: e.currentTarget.value })}
                >
                  <option value="">default</option>
                  <option value="true">yes</option>
                  <option value="false">no</option>
                </select>
              ) : field.type === 'json' ? (
                <textarea
                  {...props}
                  class="code"
                  rows={4}
                  spellcheck={false}
                  value={values[field.name]}
                  onInput={(e) => setValues({ ...values, [field.name]: e.currentTarget.value })}
                />
              ) : (
                <input
                  {...props}
                  type={inputType(field) as 'text'}
                  autoComplete={field.secret ? 'new-password' : 'off'}
                  placeholder={field.secret && integration.isConfigured ? '•••••••• (stored)' : undefined}
                  value={values[field.name]}
                  onInput={(e) => setValues({ ...values, [field.name]: e.currentTarget.value })}
                />
              )
            }
          </Field>
        ))}
        <Field
          label="Message template"
          hint="Liquid, such as: New order {{order_id}} for ${{amount}}"
          error={errors.messageTemplate}
        >
          {(props) => (
            <input {...props} type="text" value={template} onInput={(e) => setTemplate(e.currentTarget.value)} />
          )}
        </Field>
        <Field
          label="Notifications (JSON)"
          hint='Event patterns to on/off, such as { "order.created": true }'
          error={errors.notifications}
        >
          {(props) => (
            <textarea
              {...props}
              class="code"
              rows={4}
              spellcheck={false}
              value={notifications}
              onInput={(e) => setNotifications(e.currentTarget.value)}
            />
          )}
        </Field>
        <label class="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} /> Active
        </label>
        {action.feedback}
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            Save
          </button>
          <a class="button" href="/integrations">
            Close
          </a>
        </div>
      </form>
    </Panel>
  )
}
