// What configureIntegration is given, checked: the config against its connector's schema (secrets kept
// when left out), its URLs against the address rule, its templates, and the integration's settings.
import { Prisma } from '#generated/prisma/client.ts'
import type { InstalledConnector } from '../../connectors/types.ts'
import { MAX_TARGET_CONCURRENCY } from '../delivery/jobs.ts'
import { checkRetryPolicy, type RetryPolicyInput } from '../delivery/retry.ts'
import { assertPublicUrl, SsrfError } from '../delivery/ssrf.ts'
import { badInput, inRange } from '../errors.ts'
import { validateNotifications } from '../events/notifications.ts'
import { type ConnectorConfig, describeIssues, maskValue, secretNames } from './stored-config.ts'
import { checkTemplate } from './templates.ts'

export interface ConfigureInput {
  config?: unknown
  notifications?: unknown
  messageTemplate?: string | null
  active?: boolean | null
  retryPolicy?: RetryPolicyInput | null
  timeoutMs?: number | null
  maxConcurrency?: number | null
}

/**
 * The new config: the given fields over nothing but the stored secrets. A secret left out, empty, or sent
 * back in its masked form keeps its stored value, so a form can round-trip what `integration` shows.
 */
function mergeSecrets(connector: InstalledConnector, given: ConnectorConfig, stored: ConnectorConfig): ConnectorConfig {
  const merged = { ...given }
  for (const name of secretNames(connector)) {
    const value = given[name]
    const keep =
      value === undefined ||
      value === null ||
      value === '' ||
      (stored[name] !== undefined && value === maskValue(stored[name]))
    if (keep && stored[name] !== undefined) merged[name] = stored[name]
    else if (keep) delete merged[name]
  }
  return merged
}

async function checkUrls(urls: ReadonlyArray<{ field: string; url: string }>): Promise<void> {
  for (const { field, url } of urls) {
    try {
      await assertPublicUrl(url)
    } catch (error) {
      if (!(error instanceof SsrfError)) throw error
      throw badInput(`config.${field} refused: ${error.message}`, {
        field: `config.${field}`,
        errorType: 'SSRF_BLOCKED',
      })
    }
  }
}

/**
 * The config to store, or BAD_USER_INPUT: it must pass the connector's schema, reach no private address
 * (unless the hub allows them) and hold templates that parse. `stored` is the integration's current config.
 */
export async function checkConfig(
  connector: InstalledConnector,
  given: unknown,
  stored: ConnectorConfig,
  options: { allowPrivateUrls: boolean },
): Promise<ConnectorConfig> {
  if (!given || typeof given !== 'object' || Array.isArray(given)) {
    throw badInput('config must be a JSON object of the connector’s fields', { field: 'config' })
  }
  const check = connector.checkConfig(mergeSecrets(connector, given as ConnectorConfig, stored))
  if (!check.ok) {
    throw badInput(`config is not valid for ${connector.displayName}: ${describeIssues(check.issues)}`, {
      field: 'config',
      validationErrors: check.issues,
    })
  }
  if (!options.allowPrivateUrls) await checkUrls(check.calls.urls())
  for (const template of check.calls.templates()) checkTemplate(template, 'config')
  return check.config
}

/** The integration's settings as given, checked, as the columns to write (absent: unchanged). */
export function checkSettings(input: ConfigureInput) {
  if (input.messageTemplate) checkTemplate(input.messageTemplate, 'messageTemplate')
  const notifications = input.notifications === undefined ? undefined : validateNotifications(input.notifications)
  const policy = input.retryPolicy
  return {
    ...(input.messageTemplate !== undefined ? { messageTemplate: input.messageTemplate || null } : {}),
    ...(notifications !== undefined ? { notifications: notifications ?? Prisma.DbNull } : {}),
    ...(policy ? checkRetryPolicy(policy) : {}),
    ...(input.timeoutMs != null ? { timeoutMs: inRange('timeoutMs', input.timeoutMs, 500, 60_000) } : {}),
    ...(input.maxConcurrency != null
      ? { maxConcurrency: inRange('maxConcurrency', input.maxConcurrency, 1, MAX_TARGET_CONCURRENCY) }
      : {}),
  }
}
