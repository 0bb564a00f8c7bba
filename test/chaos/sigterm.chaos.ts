import { chaosScale } from './scale.ts'
import { describeSigterm } from './scenarios/sigterm.ts'

describeSigterm(chaosScale())
