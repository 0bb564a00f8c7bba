// Who am I, and a heartbeat subscription that proves the WebSocket transport end to end.
import { Repeater } from 'graphql-yoga'
import { badInput } from '../errors.ts'
import { builder } from './builder.ts'
import { tenantOf } from './context.ts'

const Viewer = builder.objectRef<{ tenant: string }>('Viewer').implement({
  description: 'The caller, as identified by its bearer token.',
  fields: (t) => ({
    tenant: t.exposeString('tenant', { description: 'The tenant id: the token’s `sub` claim.' }),
  }),
})

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    resolve: (_root, _args, context) => ({ tenant: tenantOf(context) }),
  }),
)

builder.subscriptionField('heartbeat', (t) =>
  t.field({
    type: 'DateTime',
    description: 'The server time, every `intervalMs` milliseconds (100 to 60000).',
    args: { intervalMs: t.arg.int({ defaultValue: 1000, required: true }) },
    subscribe: (_root, { intervalMs }) => {
      if (intervalMs < 100 || intervalMs > 60_000) throw badInput('intervalMs must be from 100 to 60000')
      return new Repeater<Date>(async (push, stop) => {
        await push(new Date())
        const timer = setInterval(() => push(new Date()), intervalMs)
        await stop
        clearInterval(timer)
      })
    },
    resolve: (time) => time,
  }),
)
