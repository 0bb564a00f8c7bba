// The installed connectors. Adding one: a folder under connectors/, and one line here.
import algolia from './algolia/index.ts'
import mailchimp from './mailchimp/index.ts'
import slack from './slack/index.ts'
import stripe from './stripe/index.ts'
import type { InstalledConnector } from './types.ts'
import zapier from './zapier/index.ts'

export const connectors: readonly InstalledConnector[] = [slack, zapier, mailchimp, algolia, stripe]

const byName = new Map(connectors.map((connector) => [connector.name, connector]))

export function findConnector(name: string): InstalledConnector | undefined {
  return byName.get(name)
}
