import { chaosScale } from './scale.ts'
import { describeBadReceivers } from './scenarios/bad-receivers.ts'

describeBadReceivers(chaosScale())
