// The event catalog (each type's schema and example payload) and the log of recent events.
import { useState } from 'preact/hooks'
import {
  type Cursor,
  FilterInput,
  JsonBlock,
  Loading,
  Notice,
  Page,
  Pager,
  Panel,
  pageArgs,
} from '../components/ui.tsx'
import { ago, formatDateTime } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { type Connection, PAGE_INFO } from '../queries.ts'

const CATALOG = `query Catalog { eventTypes { name category description version deprecated builtIn webhooksCount
  lastTriggeredAt payloadSchema examplePayload } }`

const RECENT = `query RecentEvents($type: String, $first: Int, $after: String, $last: Int, $before: String) {
  events(type: $type, first: $first, after: $after, last: $last, before: $before) {
    edges { node { id type source createdAt idempotencyKey data } }
    ${PAGE_INFO}
  }
}`

interface EventType {
  name: string
  category: string
  description: string
  version: string
  deprecated: boolean
  builtIn: boolean
  webhooksCount: number
  lastTriggeredAt: string | null
  payloadSchema: unknown
  examplePayload: unknown
}

interface EventRow {
  id: string
  type: string
  source: string
  createdAt: string
  idempotencyKey: string | null
  data: unknown
}

export function Events() {
  return (
    <Page title="Events">
      <RecentEvents />
      <Catalog />
    </Page>
  )
}

function Catalog() {
  const catalog = useQuery<{ eventTypes: EventType[] }>(CATALOG)
  if (catalog.error) return <Notice tone="bad">{catalog.error}</Notice>
  if (!catalog.data) return <Loading what="the catalog" />
  const byCategory = new Map<string, EventType[]>()
  for (const type of catalog.data.eventTypes)
    byCategory.set(type.category, [...(byCategory.get(type.category) ?? []), type])
  return (
    <Panel title="Catalog">
      {[...byCategory].map(([category, types]) => (
        <section key={category} class="category" aria-label={`Category ${category}`}>
          <h3>{category}</h3>
          <ul class="catalog">
            {types.map((type) => (
              <li key={type.name}>
                <details>
                  <summary>
                    <code>{type.name}</code>
                    {type.deprecated && <span class="badge warn">deprecated</span>}
                    {!type.builtIn && <span class="badge neutral">registered</span>}
                    <span class="muted">
                      {type.description} · v{type.version} · {type.webhooksCount} webhook
                      {type.webhooksCount === 1 ? '' : 's'} · last {ago(type.lastTriggeredAt)}
                    </span>
                  </summary>
                  <div class="columns">
                    <div>
                      <h4>Schema</h4>
                      <JsonBlock value={type.payloadSchema} label={`${type.name} schema`} />
                    </div>
                    <div>
                      <h4>Example payload</h4>
                      <JsonBlock value={type.examplePayload} label={`${type.name} example payload`} />
                    </div>
                  </div>
                </details>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </Panel>
  )
}

function RecentEvents() {
  const [type, setType] = useState('')
  const [cursor, setCursor] = useState<Cursor>({})
  const events = useQuery<{ events: Connection<EventRow> }>(RECENT, {
    type: type || undefined,
    ...pageArgs(cursor, 20),
  })
  return (
    <Panel
      title="Recent events"
      actions={
        <FilterInput
          label="Type"
          placeholder="order.*"
          onApply={(value) => {
            setType(value)
            setCursor({})
          }}
        />
      }
    >
      {events.error && <Notice tone="bad">{events.error}</Notice>}
      {!events.data ? (
        <Loading what="events" />
      ) : events.data.events.edges.length === 0 ? (
        <p class="muted">No events{type ? ' of that type' : ' yet'}.</p>
      ) : (
        <>
          <ul class="events" aria-label="Recent events">
            {events.data.events.edges.map(({ node }) => (
              <li key={node.id}>
                <details>
                  <summary>
                    <code>{node.type}</code>
                    <span class="badge neutral">{node.source}</span>
                    <span class="muted">{formatDateTime(node.createdAt)}</span>
                    <span class="muted id">{node.id}</span>
                  </summary>
                  {node.idempotencyKey && (
                    <p class="muted">
                      Idempotency key <code>{node.idempotencyKey}</code>
                    </p>
                  )}
                  <JsonBlock value={node.data} label={`Payload of event ${node.id}`} />
                </details>
              </li>
            ))}
          </ul>
          <Pager pageInfo={events.data.events.pageInfo} onPage={setCursor} label="Event pages" />
        </>
      )}
    </Panel>
  )
}
