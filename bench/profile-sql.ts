// node bench/profile-sql.ts [events] [webhooks]
// Where PostgreSQL spends its time on the delivery path: one hub process publishing `events` events
// (16 at a time) to `webhooks` webhooks on a local sink, on an embedded PostgreSQL with
// pg_stat_statements and pg_walinspect loaded; prints the statements by total time, then what each
// delivery wrote: rows per table (inserted, updated of which HOT, deleted) and WAL bytes per relation
// (tables and indexes, from the WAL itself). Used to tune the hot SQL and the writes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config.ts'
import { startEmbeddedPostgres } from '../src/db/embedded.ts'
import { migrate } from '../src/db/migrate.ts'
import { startHub } from '../src/hub.ts'
import { createLogger } from '../src/logger.ts'
import { startReceiver } from '../test/helpers/receiver.ts'

const events = Number(process.argv[2] ?? 3000)
const fanout = Number(process.argv[3] ?? 1)
const logger = createLogger('warn')
const dir = await mkdtemp(join(tmpdir(), 'switchyard-profile-'))
const server = await startEmbeddedPostgres({
  dataDir: join(dir, 'pg'),
  password: 'profile',
  logger,
  serverFlags: ['-c shared_preload_libraries=pg_stat_statements', '-c pg_stat_statements.track=all'],
})
const url = await server.ensureDatabase('profile')
await migrate(url, logger)
const admin = new pg.Client({ connectionString: url })
await admin.connect()
await admin.query('CREATE EXTENSION pg_stat_statements')
await admin.query('CREATE EXTENSION pg_walinspect')
const hub = await startHub(
  loadConfig({
    DATABASE_URL: url,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SWITCHYARD_JWT_SECRET: 'profile-secret-profile-secret-profile!',
    SWITCHYARD_ENCRYPTION_KEY: 'profile-key-profile-key-profile-key!',
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
  }),
  'all',
  logger,
)
const sink = await startReceiver()

/** Rows inserted, updated (of which HOT) and deleted so far, per table of the hub's and pg-boss's. */
async function tableWrites() {
  const { rows } = await admin.query<{ table: string; ins: string; upd: string; hot: string; del: string }>(
    `SELECT schemaname || '.' || relname AS table, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot,
            n_tup_del AS del
       FROM pg_stat_user_tables ORDER BY 1`,
  )
  return new Map(
    rows.map((row) => [
      row.table,
      { ins: Number(row.ins), upd: Number(row.upd), hot: Number(row.hot), del: Number(row.del) },
    ]),
  )
}
await admin.query("INSERT INTO tenants (id) VALUES ('profile')")
for (let i = 0; i < fanout; i++) {
  await hub.services.webhooks.create('profile', {
    name: `w${i}`,
    url: sink.url,
    events: ['order.*'],
    maxConcurrency: 50,
  })
}
// A checkpoint first, so that the full-page images each window pays come from its own writes.
await admin.query('CHECKPOINT')
await admin.query('SELECT pg_stat_statements_reset()')
const tables0 = await tableWrites()
const { rows: lsn0 } = await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
const started = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < events) {
      next += 1
      await hub.services.events.publisher.publish('profile', {
        type: 'order.updated',
        payload: { order_id: `P-${next}`, status: 'confirmed' },
      })
    }
  }),
)
await sink.waitFor(events * fanout, 300_000)
// Received is not yet recorded: wait for every delivery's record.
while (
  (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries WHERE status = 'SUCCEEDED'")).rows[0]
    ?.n !==
  events * fanout
) {
  await new Promise((resolve) => setTimeout(resolve, 20))
}
const seconds = (performance.now() - started) / 1000
const { rows: lsn1 } = await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
console.log(
  `${events} events, ${events * fanout} deliveries in ${seconds.toFixed(1)} s (${Math.round((events * fanout) / seconds)} deliveries/s)`,
)
const { rows } = await admin.query(
  `SELECT calls, round(total_exec_time)::int AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
          left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15`,
)
console.log('total ms   calls  mean ms  statement')
for (const row of rows) {
  console.log(
    `${String(row.total_ms).padStart(8)} ${String(row.calls).padStart(7)} ${String(row.mean_ms).padStart(8)}  ${row.query}`,
  )
}
await sink.close()
await hub.stop()
// Each backend flushes its table counters when it ends: the hub's are all in now.
await new Promise((resolve) => setTimeout(resolve, 1500))
const deliveries = events * fanout
const perDelivery = (n: number) => (n / deliveries).toFixed(2).padStart(7)
const tables1 = await tableWrites()
console.log('\nrows per delivery: inserted  updated      HOT  deleted  table')
let totalRows = 0
for (const [table, after] of tables1) {
  const before = tables0.get(table) ?? { ins: 0, upd: 0, hot: 0, del: 0 }
  const delta = {
    ins: after.ins - before.ins,
    upd: after.upd - before.upd,
    hot: after.hot - before.hot,
    del: after.del - before.del,
  }
  if (delta.ins + delta.upd + delta.del === 0) continue
  totalRows += delta.ins + delta.upd + delta.del
  console.log(
    `                  ${perDelivery(delta.ins)}  ${perDelivery(delta.upd)}  ${perDelivery(delta.hot)}  ${perDelivery(delta.del)}  ${table}`,
  )
}
console.log(`row writes per delivery: ${(totalRows / deliveries).toFixed(2)}`)
const { rows: wal } = await admin.query<{ relation: string; bytes: string; fpi: string }>(
  `SELECT coalesce(pg_filenode_relation(0, relfilenode)::regclass::text, relfilenode::text) AS relation,
          sum(block_data_length + main_data_length)::bigint AS bytes, sum(block_fpi_length)::bigint AS fpi
     FROM pg_get_wal_block_info($1::pg_lsn, $2::pg_lsn)
    GROUP BY 1 ORDER BY 2 DESC LIMIT 20`,
  [lsn0[0]?.lsn, lsn1[0]?.lsn],
)
const { rows: walTotal } = await admin.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($2, $1)::bigint AS bytes', [
  lsn0[0]?.lsn,
  lsn1[0]?.lsn,
])
console.log(`\nWAL bytes per delivery: ${Math.round(Number(walTotal[0]?.bytes) / deliveries)}`)
console.log('  data    fpi  relation (per delivery; record headers are not shown)')
for (const row of wal) {
  console.log(
    `${String(Math.round(Number(row.bytes) / deliveries)).padStart(6)} ${String(Math.round(Number(row.fpi) / deliveries)).padStart(6)}  ${row.relation}`,
  )
}
const { rows: records } = await admin.query<{ record: string; count: string; bytes: string }>(
  `SELECT "resource_manager/record_type" AS record, count, combined_size AS bytes
     FROM pg_get_wal_stats($1::pg_lsn, $2::pg_lsn, true) WHERE count > 0 ORDER BY combined_size DESC LIMIT 12`,
  [lsn0[0]?.lsn, lsn1[0]?.lsn],
)
console.log('\n records  bytes  WAL record type (per delivery, headers included)')
for (const row of records) {
  console.log(
    `${(Number(row.count) / deliveries).toFixed(2).padStart(8)} ${String(Math.round(Number(row.bytes) / deliveries)).padStart(6)}  ${row.record}`,
  )
}
await admin.end()
await server.stop()
await rm(dir, { recursive: true, force: true })
