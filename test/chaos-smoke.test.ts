// Issue 9's chaos scenarios 1, 4 and 6, small, inside `npm test`: every event delivered, and exactly once
// and SUCCEEDED for the healthy tenant. Their timing targets are asserted by `npm run test:chaos`, which
// runs all six at full scale (test/chaos/).
import { SMOKE } from './chaos/scale.ts'
import { describePoisonedTenant } from './chaos/scenarios/poisoned-tenant.ts'
import { describeSlowSubscribers } from './chaos/scenarios/slow-subscribers.ts'
import { describeWorkerCrash } from './chaos/scenarios/worker-crash.ts'

describeWorkerCrash(SMOKE)
describePoisonedTenant(SMOKE)
describeSlowSubscribers(SMOKE)
