// The tenant's webhooks: name, URL, patterns, status, success rate, p95 and last delivery.
import { useState } from 'preact/hooks'
import { type Cursor, Loading, Notice, Page, Pager, pageArgs, WebhookStatusBadge } from '../components/ui.tsx'
import { ago, ms, percent } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { type Connection, PAGE_INFO, WEBHOOK_ROW, type WebhookRow } from '../queries.ts'
import { useSession } from '../session.tsx'

const PAGE_SIZE = 25

const WEBHOOKS = `query Webhooks($first: Int, $after: String, $last: Int, $before: String, $filter: WebhookFilter) {
  webhooks(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { node { ${WEBHOOK_ROW} } }
    ${PAGE_INFO}
  }
}`

export function Webhooks() {
  const { canWrite } = useSession()
  const [cursor, setCursor] = useState<Cursor>({})
  const [active, setActive] = useState('')
  const filter = active === '' ? undefined : { active: active === 'active' }
  const list = useQuery<{ webhooks: Connection<WebhookRow> }>(WEBHOOKS, { ...pageArgs(cursor, PAGE_SIZE), filter })
  return (
    <Page
      title="Webhooks"
      actions={
        canWrite && (
          <a class="button primary" href="/webhooks/new">
            Create webhook
          </a>
        )
      }
    >
      <div class="toolbar">
        <label>
          Status{' '}
          <select
            value={active}
            onChange={(event) => {
              setActive(event.currentTarget.value)
              setCursor({})
            }}
          >
            <option value="">All</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
          </select>
        </label>
      </div>
      {list.error && <Notice tone="bad">{list.error}</Notice>}
      {!list.data ? (
        <Loading what="webhooks" />
      ) : list.data.webhooks.edges.length === 0 ? (
        <p class="muted">No webhooks{active ? ' here' : ' yet'}.</p>
      ) : (
        <>
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Webhooks</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">URL</th>
                  <th scope="col">Events</th>
                  <th scope="col">Status</th>
                  <th scope="col">Success</th>
                  <th scope="col">p95</th>
                  <th scope="col">Last delivery</th>
                </tr>
              </thead>
              <tbody>
                {list.data.webhooks.edges.map(({ node: hook }) => (
                  <tr key={hook.id}>
                    <th scope="row">
                      <a href={`/webhooks/${hook.id}`}>{hook.name}</a>
                    </th>
                    <td class="url">{hook.url}</td>
                    <td>
                      {hook.events.map((pattern) => (
                        <code key={pattern} class="tag">
                          {pattern}
                        </code>
                      ))}
                    </td>
                    <td>
                      <WebhookStatusBadge hook={hook} />
                    </td>
                    <td>{percent(hook.deliveryStats.successRate)}</td>
                    <td>{ms(hook.deliveryStats.p95ResponseTimeMs)}</td>
                    <td>{ago(hook.lastTriggeredAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pageInfo={list.data.webhooks.pageInfo} onPage={setCursor} label="Webhook pages" />
        </>
      )}
    </Page>
  )
}
