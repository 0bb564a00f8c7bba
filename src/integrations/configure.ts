// Setting an integration up, changing it, and switching it off. A valid config clears what the boot check
// reported; enabling one again resumes the deliveries parked while it was off.
import { v7 as uuidv7 } from 'uuid'
import type { Integration } from '#generated/prisma/client.ts'
import { db, transaction } from '../db/client.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { resumeParked } from '../delivery/requeue.ts'
import { tenantChanged } from '../events/tenant-cache.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { openConfig, sealSecrets, splitConfig } from './stored-config.ts'
import { type ConfigureInput, checkConfig, checkSettings } from './validation.ts'
import { connectorNamed, findIntegration } from './views.ts'

export interface ConfigureDeps {
  sealer: Sealer
  jobs: DeliveryJobs
  /** SWITCHYARD_ALLOW_PRIVATE_URLS: config URLs may name private addresses. */
  allowPrivateUrls: boolean
}

export async function configureIntegration(
  deps: ConfigureDeps,
  tenantId: string,
  name: string,
  input: ConfigureInput,
): Promise<Integration> {
  const connector = connectorNamed(name)
  const existing = await db().integration.findUnique({ where: { tenantId_connector: { tenantId, connector: name } } })
  const stored = existing ? openConfig(deps.sealer, existing) : {}
  const config = await checkConfig(connector, input.config, stored, deps)
  const settings = checkSettings(input)
  const id = existing?.id ?? uuidv7()
  const { plain, hidden } = splitConfig(connector, config)
  const columns = {
    config: plain as object,
    secrets: sealSecrets(deps.sealer, id, hidden),
    configError: null,
    isActive: input.active ?? true,
    ...settings,
  }
  const saved = existing
    ? await db().integration.update({ where: { id }, data: columns })
    : await db().integration.create({ data: { id, tenantId, connector: name, ...columns } })
  await tenantChanged(tenantId)
  // Deliveries parked while it was disabled go out again (always checked, so a crash here heals next time).
  if (saved.isActive) await transaction((client) => resumeParked(client, 'integration_id', saved, deps.jobs))
  return saved
}

export async function disableIntegration(tenantId: string, name: string): Promise<Integration> {
  const integration = await findIntegration(tenantId, name)
  if (!integration.isActive) return integration
  const disabled = await db().integration.update({ where: { id: integration.id }, data: { isActive: false } })
  await tenantChanged(tenantId)
  return disabled
}
