import { builder } from './builder.ts'
import './system.ts'
import './events.ts'
import './webhooks.ts'
import './deliveries.ts'
import './integrations.ts'

export const schema = builder.toSchema({ sortSchema: true })
