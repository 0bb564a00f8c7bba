// node bench/profile-sql.ts [events] [webhooks]
// Where PostgreSQL spends its time on the delivery path: one hub process publishing `events` events
// (16 at a time) to `webhooks` webhooks on a local sink, on an embedded PostgreSQL with
// pg_stat_statements loaded; prints the statements by total time. Used to tune the hot SQL.
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
await admin.query("INSERT INTO tenants (id) VALUES ('profile')")
for (let i = 0; i < fanout; i++) {
  await hub.services.webhooks.create('profile', {
    name: `w${i}`,
    url: sink.url,
    events: ['order.*'],
    maxConcurrency: 50,
  })
}
await admin.query('SELECT pg_stat_statements_reset()')
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
const seconds = (performance.now() - started) / 1000
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
await admin.end()
await server.stop()
await rm(dir, { recursive: true, force: true })
