import SchemaBuilder from '@pothos/core'
import DataloaderPlugin from '@pothos/plugin-dataloader'
import PrismaPlugin from '@pothos/plugin-prisma'
import RelayPlugin from '@pothos/plugin-relay'
import ScopeAuthPlugin from '@pothos/plugin-scope-auth'
import { DateTimeResolver, JSONResolver } from 'graphql-scalars'
import type PrismaTypes from '#generated/pothos-prisma-types.ts'
import { getDatamodel } from '#generated/pothos-prisma-types.ts'
import { db } from '../db/client.ts'
import { unauthenticated } from '../errors.ts'
import type { Context } from './context.ts'

export const builder = new SchemaBuilder<{
  Context: Context
  PrismaTypes: PrismaTypes
  AuthScopes: { tenant: boolean }
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
    authScopes: (context) => ({ tenant: context.tenantId !== null }),
    unauthorizedError: () => unauthenticated('this operation needs "Authorization: Bearer <token>"'),
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
builder.addScalarType('JSON', JSONResolver)

// Every root field needs a tenant; introspection needs one too (introspectionNeedsToken in request-limits.ts).
builder.queryType({ authScopes: { tenant: true } })
builder.mutationType({ authScopes: { tenant: true } })
builder.subscriptionType({ authScopes: { tenant: true } })
