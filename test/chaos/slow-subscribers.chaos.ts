import { chaosScale } from './scale.ts'
import { describeSlowSubscribers } from './scenarios/slow-subscribers.ts'

describeSlowSubscribers(chaosScale())
