// An integration's config: validated by its connector's schema, split into plain and secret fields,
// the secret ones sealed at rest and masked in every answer.
import { type Connector, configFieldsOf } from '../../connectors/types.ts'
import { integrationSecretsContext } from '../sealing/fields.ts'
import type { Sealer } from '../sealing/sealer.ts'

export type ConnectorConfig = Record<string, unknown>

export function secretNames(connector: Connector): Set<string> {
  return new Set(configFieldsOf(connector).flatMap((field) => (field.secret ? [field.name] : [])))
}

/** The plain fields (stored as JSON) and the secret ones (to be sealed). */
export function splitConfig(connector: Connector, config: ConnectorConfig) {
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
export function openConfig(
  sealer: Sealer,
  integration: { id: string; config: unknown; secrets: string | null },
): ConnectorConfig {
  const hidden = integration.secrets
    ? (JSON.parse(sealer.open(integration.secrets, integrationSecretsContext(integration.id))) as ConnectorConfig)
    : {}
  return { ...(integration.config as ConnectorConfig), ...hidden }
}

/** Enough of a secret to recognise it, never enough to use it. */
export function maskValue(value: unknown): string {
  const text = String(value)
  return text.length >= 16 ? `••••••••${text.slice(-4)}` : '••••••••'
}

export function maskConfig(connector: Connector, config: ConnectorConfig): ConnectorConfig {
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
export function secretValuesOf(connector: Connector, config: ConnectorConfig): string[] {
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
