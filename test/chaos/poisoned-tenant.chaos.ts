import { chaosScale } from './scale.ts'
import { describePoisonedTenant } from './scenarios/poisoned-tenant.ts'

describePoisonedTenant(chaosScale())
