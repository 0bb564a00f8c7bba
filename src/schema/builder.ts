import SchemaBuilder from '@pothos/core'
import DataloaderPlugin from '@pothos/plugin-dataloader'
import PrismaPlugin from '@pothos/plugin-prisma'
import RelayPlugin from '@pothos/plugin-relay'
import ScopeAuthPlugin from '@pothos/plugin-scope-auth'
import { DateTimeResolver, JSONResolver } from 'graphql-scalars'
import type PrismaTypes from '#generated/pothos-prisma-types.ts'
import { getDatamodel } from '#generated/pothos-prisma-types.ts'
import { db } from '../db/client.ts'
import { forbidden, unauthenticated } from '../errors.ts'
import { assertJsonDepth, MAX_JSON_DEPTH } from '../json-limits.ts'
import type { Context } from './context.ts'

export const builder = new SchemaBuilder<{
  Context: Context
  PrismaTypes: PrismaTypes
  AuthScopes: { read: boolean; write: boolean }
  Scalars: {
    ID: { Input: string; Output: string }
    DateTime: { Input: Date; Output: Date | string }
    JSON: { Input: unknown; Output: unknown }
  }
  DefaultFieldNullability: false
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ read: context.scopes.has('read'), write: context.scopes.has('write') }),
    unauthorizedError: (_parent, context, info) => {
      if (context.tenantId === null) return unauthenticated('this operation needs "Authorization: Bearer <token>"')
      return forbidden(
        info.parentType.name === 'Mutation'
          ? 'this token’s scope does not allow mutations; they need the `write` scope'
          : 'this token’s scope allows nothing; queries and subscriptions need the `read` scope',
      )
    },
  },
  prisma: {
    client: () => db(),
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
  },
})

builder.addScalarType('DateTime', DateTimeResolver)
/** Every JSON argument, as a variable or written in the document, nests at most MAX_JSON_DEPTH deep. */
function withinJsonDepth(value: unknown): unknown {
  assertJsonDepth(value, MAX_JSON_DEPTH, 'JSON')
  return value
}
builder.addScalarType('JSON', JSONResolver, {
  parseValue: (value) => withinJsonDepth(JSONResolver.parseValue(value)),
  parseLiteral: (ast, variables) => withinJsonDepth(JSONResolver.parseLiteral(ast, variables)),
})

// Every root field needs a token (a tenant) whose scope allows it, checked here for every field of the type:
// a field added later cannot miss it. Introspection needs a token with the read scope too
// (introspectionNeedsReadScope in request-limits.ts).
const RATE_LIMIT =
  'Every request counts against the tenant’s rate limit; past it, RATE_LIMITED with `extensions.retryAfterMs`. While the database cannot be reached, UNAVAILABLE: nothing was stored, retry later.'
builder.queryType({
  description: `Every query needs a token whose \`scope\` grants \`read\` or \`write\` (or that has neither a \`scope\` nor an \`scp\` claim). ${RATE_LIMIT}`,
  authScopes: { read: true },
})
builder.mutationType({
  description: `Every mutation needs a token whose \`scope\` grants \`write\` (or that has neither a \`scope\` nor an \`scp\` claim); a \`read\` token gets FORBIDDEN. ${RATE_LIMIT}`,
  authScopes: { write: true },
})
builder.subscriptionType({
  description: `Every subscription needs a token whose \`scope\` grants \`read\` or \`write\` (or that has neither a \`scope\` nor an \`scp\` claim), and ends with UNAUTHENTICATED when that token expires. ${RATE_LIMIT}`,
  authScopes: { read: true },
})
