// Stored configs, checked when the connectors load: at boot, every integration's config is opened and
// parsed against its connector's schema (which may have changed since it was stored). A config that no
// longer passes is logged, and kept on the integration as its configError until it is configured again;
// the hub boots regardless, and the integration's calls fail with the same reason.
import { findConnector } from '../../connectors/registry.ts'
import { pool } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import { SealError, type Sealer } from '../sealing/sealer.ts'
import { openChecked, type StoredIntegration } from './stored-config.ts'

const BATCH = 500

interface StoredRow extends StoredIntegration {
  tenant_id: string
  connector: string
  config_error: string | null
  updated_at: Date
}

/** Why the stored config cannot be used; null when it passes. */
function problemOf(sealer: Sealer, row: StoredRow): string | null {
  const connector = findConnector(row.connector)
  if (!connector) return `the ${row.connector} connector is not installed`
  try {
    const checked = openChecked(sealer, connector, row)
    return checked.ok ? null : `the config no longer passes the ${connector.name} connector’s schema: ${checked.reason}`
  } catch (error) {
    // A sealing error says which key is missing; anything else may quote what was opened.
    return `the config’s secrets cannot be opened${error instanceof SealError ? `: ${error.message}` : ''}`
  }
}

/** Checks every stored integration config, in batches, and logs each one that cannot be used. */
export async function checkStoredConfigs(sealer: Sealer, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'integrations' })
  let after = '00000000-0000-0000-0000-000000000000'
  for (;;) {
    const { rows } = await pool().query<StoredRow>(
      `SELECT id, tenant_id, connector, config, secrets, config_error, updated_at FROM integrations
        WHERE id > $1 ORDER BY id LIMIT $2`,
      [after, BATCH],
    )
    for (const row of rows) {
      const problem = problemOf(sealer, row)
      if (problem !== null) {
        log.warn(
          { integrationId: row.id, tenant: row.tenant_id, connector: row.connector, reason: problem },
          'a stored integration config cannot be used',
        )
      }
      if (problem !== row.config_error) {
        // Unless it was configured again meanwhile.
        await pool().query('UPDATE integrations SET config_error = $2 WHERE id = $1 AND updated_at = $3', [
          row.id,
          problem,
          row.updated_at,
        ])
      }
    }
    const last = rows.at(-1)
    if (!last || rows.length < BATCH) return
    after = last.id
  }
}
