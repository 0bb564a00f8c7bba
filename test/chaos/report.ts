// docs/reliability.md, written from the scenarios' results at the end of a full `npm run test:chaos`.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { ScenarioResult } from './results.ts'

/** A report is written only from a run of every scenario. */
export const SCENARIO_COUNT = 6

const INTRO = `# Reliability

Issue 9's promise: every published event reaches every matching endpoint at least once, and one
tenant's broken endpoint is not another tenant's problem. \`npm run test:chaos\` checks it with real
processes: the hub's API and worker run as child processes (\`node src/main.ts api|worker\`) on an
embedded PostgreSQL, and deliver to HTTP receivers on 127.0.0.1 that keep a ledger of every request
(event id from \`webhook-id\`, attempt, timestamps, how it was answered) and can be told to misbehave.
Each scenario publishes a known set of events over GraphQL, each with its own idempotency key, retrying
refused publishes until accepted as a client would, then reads the ledgers: a delivery counts when the
receiver answered it with a 2xx; every event must be delivered at least once, duplicates are counted,
and an event still missing when the scenario's wait ends is lost.

1. **Worker SIGKILL.** A burst of events to two webhooks (50 attempts in flight each); the worker
   process is killed with SIGKILL a third of the way through and a new one started 2 s later. Recovery:
   from the kill to the last event's first delivery (target < 30 s).
2. **PostgreSQL restart.** Publishing at 40 events/s to two webhooks while the scenario's own
   PostgreSQL is stopped (\`pg_ctl stop -m fast\`) for 10 s and started again on the same port. Refused
   publishes must carry \`extensions.code: "UNAVAILABLE"\`, the hub's processes must survive, and
   \`/readyz\` must answer 200 again. Recovery: from PostgreSQL's return until publishes are accepted
   again and every event accepted before it has arrived.
3. **Misbehaving receivers.** Seven webhooks of one tenant, retry policy 500 ms × 1.5. For 20 s one
   receiver answers after 10 s, one answers 500, one is down (connection refused), one answers bytes that
   are not HTTP, one sends a 64 MB body, one a body that never ends (its webhook times out after 3 s);
   then they all heal. The seventh is healthy throughout: it must get each event once, with a publish →
   receive p99 under 1 s. For the receivers that fail at once (500, garbage), no retry may come before
   its delay less the 20% jitter, nor more of them than the policy allows. Recovery: from the heal to
   the last delivery.
4. **Poisoned tenant.** One tenant has a webhook with the header \`authorization: abcde😀tail\`
   (written into the table with SQL when \`createWebhook\` refuses it, as an old row would be) and eight
   webhooks at a tarpit that accepts connections and never answers, each with \`maxConcurrency\` 50, all
   retrying and never disabled. Once the attack is under way, a healthy tenant publishes 20 events/s for
   30 s: each event must arrive exactly once, be logged \`SUCCEEDED\` (read back with the \`deliveries\`
   query), and arrive with a p99 under 1 s.
5. **Worker SIGTERM.** SIGTERM to the worker under load, while ten deliveries are held by a receiver that
   answers after 25 s, longer than the worker's \`SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS\` (5). The worker
   must exit within its timeout (plus 2 s to close) with code 0 and leave no pg-boss job \`active\`; after
   a restart every event must arrive. Recovery: from the SIGTERM to the last delivery.
6. **Slow subscribers.** The API runs with \`--max-old-space-size=256\`, as under a container's memory
   limit. A warm-up publishes 3,000 events of 16 KB at 150/s to one graphql-ws client that reads them.
   Then five graphql-transport-ws sockets subscribe to \`events\` and stop reading (their socket paused),
   the reader subscribes again, between them, and 3,000 more events follow at the same rate. The reader
   must get each of them once (its publish → received p99 is in the p99 column), the API must survive,
   and its RSS (from \`/proc/<pid>/status\`) must not rise more than 128 MB above its peak in the warm-up.

Run it with \`npm run test:chaos\` (about 6 minutes on 2 cores; a run of all six scenarios rewrites this
file), one scenario with \`npm run test:chaos -- worker-crash\` (the file names in \`test/chaos/\`), or
every scenario small with \`CHAOS_SCALE=smoke npm run test:chaos\`, which leaves this file alone.
Scenarios 1, 4 and 6 also run small inside \`npm test\` (\`test/chaos-smoke.test.ts\`), which asserts
delivery, exactly-once and \`SUCCEEDED\`, but no timings.
`

export interface RunInfo {
  startedAt: Date
  durationMs: number
  postgresVersion: string
}

export async function readResults(dir: string): Promise<ScenarioResult[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.json'))
  const results = await Promise.all(
    files.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8')) as ScenarioResult),
  )
  return results.sort((a, b) => a.order - b.order)
}

const count = (n: number) => n.toLocaleString('en-US')
const secondsOrDash = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`)
const millisOrDash = (ms: number | null) => (ms === null ? '—' : `${count(Math.round(ms))} ms`)

export function renderReport(results: readonly ScenarioResult[], run: RunInfo): string {
  const cpu = cpus()
  const rows = results.map((result) => {
    const failed = result.checks.filter((check) => !check.ok)
    const verdict =
      failed.length === 0 ? 'all met' : `**missed:** ${failed.map((c) => `${c.name} (${c.actual})`).join('; ')}`
    const recovery = result.recoveryMs === 'unrecovered' ? 'not recovered' : secondsOrDash(result.recoveryMs)
    return (
      `| ${result.order}. ${result.title} | ${count(result.eventsSent)} (${count(result.expected)}) | ` +
      `${count(result.delivered)} | ${count(result.duplicates)} | ${count(result.lost)} | ${recovery} | ` +
      `${millisOrDash(result.healthyP99Ms)} | ${verdict} |`
    )
  })
  const notes = results.map(
    (result) =>
      `- **${result.order}. ${result.title}** (${secondsOrDash(result.durationMs)}): ${result.notes.join('; ')}.`,
  )
  const machine = `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GB`
  return `${INTRO}
## Last run

${run.startedAt.toISOString().slice(0, 10)}; ${machine}; Node ${process.versions.node}; PostgreSQL
${run.postgresVersion} (embedded, fsync off); \`npm run test:chaos\` took ${secondsOrDash(run.durationMs)}.
"Events sent" counts published events, and in brackets the deliveries they make (each event to each
endpoint or subscriber that should get it); delivered, duplicates and lost count deliveries. "Healthy
p99" is publish → received: the healthy webhook's (3), the healthy tenant's (4), the reader's (6).

| scenario | events sent (deliveries) | delivered | duplicates | lost | recovery time | healthy p99 | targets |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

${notes.join('\n')}
`
}

/** Writes the report when every scenario ran; says how many did. */
export async function writeReport(dir: string, path: string, run: RunInfo): Promise<number> {
  const results = await readResults(dir)
  if (results.length === SCENARIO_COUNT) await writeFile(path, renderReport(results, run))
  return results.length
}
