import { chaosScale } from './scale.ts'
import { describePostgresRestart } from './scenarios/postgres-restart.ts'

describePostgresRestart(chaosScale())
