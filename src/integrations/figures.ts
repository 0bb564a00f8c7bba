// An integration's figures, counted as every delivery's are (delivery/figures.ts), and its latest attempts.
import { validate as isUuid } from 'uuid'
import { pool } from '../db/client.ts'
import { failedCountSql, succeededCountSql, successRate } from '../delivery/figures.ts'

export interface IntegrationStats {
  integrationId: string
  syncCount: number
  errorCount: number
  successRate: number | null
  lastSyncAt: Date | null
}

/** Lifetime figures of several integrations, in the order given, in one round trip. Tests are left out. */
export async function integrationStatsFor(integrationIds: readonly string[]): Promise<IntegrationStats[]> {
  const { rows } = await pool().query<{
    integration_id: string
    synced: number
    failed: number
    last_sync_at: Date | null
  }>(
    `SELECT integration_id,
            ${succeededCountSql()} AS synced,
            ${failedCountSql()} AS failed,
            max(completed_at) FILTER (WHERE status = 'SUCCEEDED') AS last_sync_at
       FROM deliveries WHERE integration_id = ANY($1::uuid[]) AND NOT is_test
      GROUP BY integration_id`,
    [integrationIds],
  )
  const byId = new Map(rows.map((row) => [row.integration_id, row]))
  return integrationIds.map((integrationId) => {
    const row = byId.get(integrationId)
    const synced = row?.synced ?? 0
    const failed = row?.failed ?? 0
    return {
      integrationId,
      syncCount: synced,
      errorCount: failed,
      successRate: successRate(synced, failed),
      lastSyncAt: row?.last_sync_at ?? null,
    }
  })
}

export interface Activity {
  event: string
  status: 'success' | 'failed'
  message: string
  at: Date
  isTest: boolean
}

/** The integration's latest attempts, newest first. */
export async function recentActivity(integrationId: string, limit: number): Promise<Activity[]> {
  if (!isUuid(integrationId)) return []
  const { rows } = await pool().query<{
    event_type: string
    response_body: string | null
    error_message: string | null
    error_type: string | null
    started_at: Date
    is_test: boolean
  }>(
    `SELECT d.event_type, a.response_body, a.error_message, a.error_type, a.started_at, a.is_test
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
      WHERE a.integration_id = $1
      ORDER BY a.started_at DESC LIMIT $2`,
    [integrationId, limit],
  )
  return rows.map((row) => ({
    event: row.event_type,
    status: row.error_type ? 'failed' : 'success',
    message: (row.error_type ? row.error_message : row.response_body) ?? '',
    at: row.started_at,
    isTest: row.is_test,
  }))
}
