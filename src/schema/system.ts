// Who am I, and a heartbeat subscription that proves the WebSocket transport end to end.
import { badInput } from '../errors.ts'
import { liveValue } from '../realtime/live.ts'
import { builder } from './builder.ts'
import { tenantOf } from './context.ts'

const Viewer = builder.objectRef<{ tenant: string; scopes: string[] }>('Viewer').implement({
  description: 'The caller, as identified by its bearer token.',
  fields: (t) => ({
    tenant: t.exposeString('tenant', { description: 'The tenant id: the token’s `sub` claim.' }),
    scopes: t.exposeStringList('scopes', {
      description:
        'What the token allows: `read` (queries and subscriptions) and `write` (mutations). From its `scope` claim (or, without one, its `scp` claim); a token with neither has both.',
    }),
  }),
})

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    resolve: (_root, _args, context) => ({ tenant: tenantOf(context), scopes: [...context.scopes] }),
  }),
)

builder.subscriptionField('heartbeat', (t) =>
  t.field({
    type: 'DateTime',
    description: 'The server time, every `intervalMs` milliseconds (100 to 60000).',
    args: { intervalMs: t.arg.int({ defaultValue: 1000, required: true }) },
    subscribe: (_root, { intervalMs }, context) => {
      if (intervalMs < 100 || intervalMs > 60_000) throw badInput('intervalMs must be from 100 to 60000')
      return context.services.live.open<Date>({ tenantId: tenantOf(context), log: context.log }, (emit) => {
        emit(new Date())
        const timer = setInterval(() => emit(new Date()), intervalMs)
        return () => clearInterval(timer)
      })
    },
    resolve: (time) => liveValue(time),
  }),
)
