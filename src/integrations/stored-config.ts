// An integration's config as stored: split into plain and secret fields by its connector's declaration,
// the secret ones sealed at rest, opened for a call, masked in every answer and scrubbed from messages.
import type { ConfigIssue, ConnectorCalls, InstalledConnector } from '../../connectors/types.ts'
import { integrationSecretsContext } from '../sealing/fields.ts'
import { maskSecret } from '../sealing/mask.ts'
import type { Sealer } from '../sealing/sealer.ts'

export type ConnectorConfig = Record<string, unknown>

export function secretNames(connector: InstalledConnector): Set<string> {
  return new Set(connector.configFields.flatMap((field) => (field.secret ? [field.name] : [])))
}

/** The plain fields (stored as JSON) and the secret ones (to be sealed). */
export function splitConfig(connector: InstalledConnector, config: ConnectorConfig) {
  const secrets = secretNames(connector)
  const plain: ConnectorConfig = {}
  const hidden: ConnectorConfig = {}
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined) continue
    if (secrets.has(name)) hidden[name] = value
    else plain[name] = value
  }
  return { plain, hidden }
}

export function sealSecrets(sealer: Sealer, integrationId: string, hidden: ConnectorConfig): string | null {
  return Object.keys(hidden).length
    ? sealer.seal(JSON.stringify(hidden), integrationSecretsContext(integrationId))
    : null
}

/** The whole config of a stored integration, secrets opened. */
export function openConfig(sealer: Sealer, integration: StoredIntegration): ConnectorConfig {
  const hidden = integration.secrets
    ? (JSON.parse(sealer.open(integration.secrets, integrationSecretsContext(integration.id))) as ConnectorConfig)
    : {}
  return { ...(integration.config as ConnectorConfig), ...hidden }
}

/** Enough of a secret to recognise it, never enough to use it. */
export function maskValue(value: unknown): string {
  return maskSecret(String(value))
}

export function maskConfig(connector: InstalledConnector, config: ConnectorConfig): ConnectorConfig {
  const secrets = secretNames(connector)
  return Object.fromEntries(
    Object.entries(config).map(([name, value]) => [
      name,
      secrets.has(name) && value != null ? maskValue(value) : value,
    ]),
  )
}

/**
 * The secret values of a config, to scrub from anything the hub logs or shows. A secret URL (a Slack or
 * Zapier hook) carries its secret in the path, which a provider's error may echo on its own.
 */
export function secretValuesOf(connector: InstalledConnector, config: ConnectorConfig): string[] {
  const secrets = secretNames(connector)
  const values = Object.entries(config).flatMap(([name, value]) =>
    secrets.has(name) && typeof value === 'string' && value.length >= 4 ? [value] : [],
  )
  const paths = values.flatMap((value) => {
    if (!URL.canParse(value)) return []
    const { pathname, search } = new URL(value)
    return [`${pathname}${search}`, pathname].filter((part) => part.length >= 8)
  })
  // Longest first, so a whole URL is replaced before its path is.
  return [...new Set([...values, ...paths])].sort((a, b) => b.length - a.length)
}

export function scrub(text: string | null, secrets: readonly string[]): string | null {
  if (text === null) return null
  return secrets.reduce((result, value) => result.split(value).join('[secret]'), text)
}

/** Why a config does not pass its connector's schema, field by field. */
export function describeIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `${issue.path || '(config)'}: ${issue.message}`).join('; ')
}

export interface StoredIntegration {
  id: string
  config: unknown
  secrets: string | null
}

export type CheckedConfig =
  | { ok: true; config: ConnectorConfig; calls: ConnectorCalls; secrets: string[] }
  | { ok: false; reason: string; secrets: string[] }

/**
 * A stored integration's config, opened and checked against its connector's schema, with its secret values
 * (to scrub from whatever is logged or shown). The reason a config fails names no secret.
 */
export function openChecked(
  sealer: Sealer,
  connector: InstalledConnector,
  integration: StoredIntegration,
): CheckedConfig {
  const stored = openConfig(sealer, integration)
  const secrets = secretValuesOf(connector, stored)
  const check = connector.checkConfig(stored)
  if (check.ok) return { ok: true, config: check.config, calls: check.calls, secrets }
  return { ok: false, reason: scrub(describeIssues(check.issues), secrets) ?? '', secrets }
}
