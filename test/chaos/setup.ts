// Global setup of `npm run test:chaos`, after the test suite's own (one PostgreSQL, a migrated template
// each scenario clones). Scenarios leave their results in a folder; at the end, a full-scale run of all
// six renders them into docs/reliability.md.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { SCENARIO_COUNT, writeReport } from './report.ts'
import { chaosScale } from './scale.ts'

export default async function setup(project: TestProject) {
  const startedAt = new Date()
  const resultsDir = await mkdtemp(join(tmpdir(), 'switchyard-chaos-results-'))
  project.provide('chaosResultsDir', resultsDir)
  const version = await postgresVersion(project.getProvidedContext().databaseAdminUrl)

  return async () => {
    try {
      if (chaosScale().name !== 'full') return
      const ran = await writeReport(resultsDir, join(process.cwd(), 'docs', 'reliability.md'), {
        startedAt,
        durationMs: Date.now() - startedAt.getTime(),
        postgresVersion: version,
      })
      console.info(
        ran === SCENARIO_COUNT
          ? 'chaos: wrote docs/reliability.md'
          : `chaos: ${ran} of ${SCENARIO_COUNT} scenarios ran; docs/reliability.md is written from a run of all of them`,
      )
    } finally {
      await rm(resultsDir, { recursive: true, force: true })
    }
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
    return rows[0]?.server_version.split(' ')[0] ?? 'unknown'
  } finally {
    await client.end()
  }
}
