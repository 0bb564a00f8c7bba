import { chaosScale } from './scale.ts'
import { describeWorkerCrash } from './scenarios/worker-crash.ts'

describeWorkerCrash(chaosScale())
