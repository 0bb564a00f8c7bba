// Totals, deliveries over time across webhooks, the error breakdown, and the webhooks that need attention.
import { useState } from 'preact/hooks'
import { type Bucket, DeliveriesChart, sumBuckets } from '../components/chart.tsx'
import { Loading, Notice, Page, Panel, Stat, WebhookStatusBadge } from '../components/ui.tsx'
import { ago, count, percent } from '../format.ts'
import { useQuery } from '../hooks.ts'
import { type Connection, ERROR_TYPE_NAMES, WEBHOOK_ROW, type WebhookRow } from '../queries.ts'

/** One query's aliases stay well under the hub's limit (30). */
const CHARTED_WEBHOOKS = 20

const OVERVIEW = `query Overview {
  webhooks(first: 100) {
    summary { totalWebhooks activeWebhooks totalEvents avgSuccessRate }
    edges { node { ${WEBHOOK_ROW} } }
  }
}`

interface OverviewData {
  webhooks: Connection<WebhookRow> & {
    summary: { totalWebhooks: number; activeWebhooks: number; totalEvents: number; avgSuccessRate: number | null }
  }
}

interface StatsData {
  [alias: string]: { timeSeries: Bucket[]; errorBreakdown: { errorType: string; count: number }[] }
}

export function Overview() {
  const overview = useQuery<OverviewData>(OVERVIEW)
  const [groupBy, setGroupBy] = useState<'HOUR' | 'DAY'>('HOUR')
  const hooks = overview.data?.webhooks.edges.map((e) => e.node) ?? []
  const charted = [...hooks]
    .sort((a, b) => b.deliveryStats.totalDeliveries - a.deliveryStats.totalDeliveries)
    .slice(0, CHARTED_WEBHOOKS)
    // In a fixed order, so that the chart's query changes only when the set of webhooks does.
    .sort((a, b) => (a.id < b.id ? -1 : 1))
  const statsQuery = charted.length
    ? `query OverviewStats($groupBy: StatsGroupBy!, ${charted.map((_, i) => `$id${i}: ID!`).join(', ')}) {
        ${charted
          .map(
            (_, i) => `w${i}: webhookStats(id: $id${i}, groupBy: $groupBy) {
              timeSeries { bucket successful failed } errorBreakdown { errorType count } }`,
          )
          .join('\n')}
      }`
    : 'query NoStats { viewer { tenant } }'
  const stats = useQuery<StatsData>(
    statsQuery,
    Object.fromEntries([['groupBy', groupBy], ...charted.map((hook, i) => [`id${i}`, hook.id])]),
  )

  if (overview.error) return <Notice tone="bad">{overview.error}</Notice>
  if (!overview.data) return <Loading what="the overview" />
  const { summary } = overview.data.webhooks
  // Only the answer for the current choice and webhooks: an earlier one is not shown while this one loads.
  const current = stats.stale ? undefined : stats.data
  const series = charted.length && current ? charted.map((_, i) => current[`w${i}`]?.timeSeries ?? []) : []
  const errors = new Map<string, number>()
  for (let i = 0; i < charted.length; i++) {
    for (const { errorType, count: n } of current?.[`w${i}`]?.errorBreakdown ?? []) {
      errors.set(errorType, (errors.get(errorType) ?? 0) + n)
    }
  }
  const errorTotal = [...errors.values()].reduce((a, b) => a + b, 0)
  const attention = hooks.filter(
    (hook) => !hook.isActive || hook.consecutiveFailures > 0 || (hook.successRate !== null && hook.successRate < 90),
  )
  const deliveries = hooks.reduce((sum, hook) => sum + hook.deliveryStats.totalDeliveries, 0)
  const failed = hooks.reduce((sum, hook) => sum + hook.deliveryStats.failedDeliveries, 0)

  return (
    <Page title="Overview">
      <dl class="stats">
        <Stat label="Webhooks" value={count(summary.totalWebhooks)} hint={`${summary.activeWebhooks} active`} />
        <Stat label="Events published" value={count(summary.totalEvents)} />
        <Stat label="Deliveries" value={count(deliveries)} hint={`${count(failed)} failed`} />
        <Stat label="Average success rate" value={percent(summary.avgSuccessRate)} />
      </dl>
      <Panel title="Deliveries over time" actions={<GroupByChoice value={groupBy} onChange={setGroupBy} />}>
        {stats.error && <Notice tone="bad">{stats.error}</Notice>}
        {!charted.length ? (
          <p class="muted">
            No webhooks yet. <a href="/webhooks/new">Create one</a> to see deliveries here.
          </p>
        ) : current ? (
          <DeliveriesChart
            buckets={sumBuckets(series)}
            label={groupBy === 'HOUR' ? 'Deliveries per hour, last 48 hours' : 'Deliveries per day, last 30 days'}
          />
        ) : (
          !stats.error && <Loading what="the chart" />
        )}
        {hooks.length > CHARTED_WEBHOOKS && (
          <p class="muted">The chart adds up the {CHARTED_WEBHOOKS} busiest webhooks.</p>
        )}
      </Panel>
      <div class="columns">
        <Panel title="Errors">
          {!current ? (
            !stats.error && <Loading what="the errors" />
          ) : errorTotal === 0 ? (
            <p class="muted">No failed attempts in this period.</p>
          ) : (
            <table>
              <caption class="visually-hidden">Failed attempts by kind</caption>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Share</th>
                </tr>
              </thead>
              <tbody>
                {[...errors].map(([type, n]) => (
                  <tr key={type}>
                    <td>{ERROR_TYPE_NAMES[type] ?? type}</td>
                    <td>{count(n)}</td>
                    <td>{percent((n / errorTotal) * 100)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
        <Panel title="Needs attention">
          {attention.length === 0 ? (
            <p class="muted">Every webhook is active and delivering.</p>
          ) : (
            <ul class="attention">
              {attention.map((hook) => (
                <li key={hook.id}>
                  <a href={`/webhooks/${hook.id}`}>{hook.name}</a> <WebhookStatusBadge hook={hook} />
                  <small class="muted">
                    {hook.consecutiveFailures > 0 && `${hook.consecutiveFailures} failures in a row · `}
                    success {percent(hook.successRate)} · last delivery {ago(hook.lastTriggeredAt)}
                  </small>
                </li>
              ))}
            </ul>
          )}
        </Panel>
      </div>
    </Page>
  )
}

export function GroupByChoice({ value, onChange }: { value: 'HOUR' | 'DAY'; onChange(value: 'HOUR' | 'DAY'): void }) {
  return (
    <fieldset class="segmented">
      <legend class="visually-hidden">Bucket size</legend>
      {(['HOUR', 'DAY'] as const).map((choice) => (
        <label key={choice}>
          <input
            type="radio"
            name="group-by"
            value={choice}
            checked={value === choice}
            onChange={() => onChange(choice)}
          />
          {choice === 'HOUR' ? 'By hour (48 h)' : 'By day (30 days)'}
        </label>
      ))}
    </fieldset>
  )
}
