// `npm run bench -- --quick` as a smoke test: it runs to the end and reports a number for every
// measurement. It asserts no speed: timing targets belong to the bench's own verdict.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { useTestDatabase } from '../helpers/db.ts'

const db = useTestDatabase()
let dir = ''
afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined))

it('completes a quick run and reports every measurement', { timeout: 300_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'))
  const out = join(dir, 'results.json')
  const run = spawnSync(process.execPath, ['bench/run.ts', '--quick', '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: '1' },
    timeout: 280_000,
  })
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
  expect(run.stdout).toMatch(/Verdict/)

  const results = JSON.parse(await readFile(out, 'utf8'))
  expect(results.quick).toBe(true)
  expect(results.ceilings.http.requestsPerSecond).toBeGreaterThan(0)
  expect(results.ceilings.queue.jobsPerSecond).toBeGreaterThan(0)
  expect(results.throughput).toHaveLength(6)
  expect(results.throughput.map((entry: { label: string }) => entry.label)).toContain(
    'GraphQL publishEvents (batches of 50) → 1 webhook(s)',
  )
  // Each per-webhook setting of issue 14 has its window, and every one delivers everything.
  expect(results.settings.map((entry: { label: string }) => entry.label)).toEqual([
    'internal publish → 1 webhook, no setting',
    'internal publish → 1 webhook, payloadFormat STRAPI',
    'internal publish → 1 webhook, transform',
    'internal publish → 1 webhook, rateLimitPerSecond 1000',
    'internal publish → 1 webhook, orderingKey (20 keys)',
  ])
  for (const entry of [...results.throughput, ...results.settings, ...results.scale, results.growth.after]) {
    expect(entry.deliveriesPerSecond, entry.label).toBeGreaterThan(0)
    expect(entry.undelivered, entry.label).toBe(0)
    expect(entry.publishErrors, entry.label).toBe(0)
    expect(entry.cpuPercent.postgres, entry.label).toBeGreaterThan(0)
  }
  for (const entry of results.throughput) {
    expect(entry.perDelivery.rowWrites, entry.label).toBeGreaterThan(0)
    expect(entry.perDelivery.walBytes, entry.label).toBeGreaterThan(0)
    expect(entry.deliveriesPerCpuSecond, entry.label).toBeGreaterThan(0)
  }
  expect(results.latency.map((entry: { eventsPerSecond: number }) => entry.eventsPerSecond)).toEqual([200, 500])
  for (const entry of results.latency) expect(entry.latencyMs.p99).toBeGreaterThan(0)
  expect(results.retry.retries).toBeGreaterThan(0)
  expect(results.graphql.ratio).toBeGreaterThan(0)
  expect(results.scale.map((entry: { workers: number }) => entry.workers)).toEqual([1, 2])
  expect(results.growth.log.deliveryRows).toBeGreaterThan(0)
  expect(results.verdict).toHaveLength(4)
})
