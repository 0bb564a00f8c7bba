// Enums shared by several domains.
import { AttemptErrorType, DeliveryStatus } from '#generated/prisma/enums.ts'
import { builder } from './builder.ts'

export const DeliveryStatusEnum = builder.enumType('DeliveryStatus', {
  values: {
    [DeliveryStatus.PENDING]: { description: 'Queued; not attempted yet.' },
    [DeliveryStatus.RETRYING]: { description: 'Failed at least once; another attempt is scheduled.' },
    [DeliveryStatus.SUCCEEDED]: { description: 'The receiver answered 2xx.' },
    [DeliveryStatus.FAILED]: { description: 'Every attempt the retry policy allows has failed.' },
    [DeliveryStatus.DEAD]: { description: 'Abandoned: the endpoint answered 410 Gone.' },
  } as const,
})

export const AttemptErrorTypeEnum = builder.enumType('AttemptErrorType', {
  values: {
    [AttemptErrorType.TIMEOUT]: { description: 'No complete answer within the webhook’s timeouts.' },
    [AttemptErrorType.CONNECTION_ERROR]: { description: 'The connection failed (refused, reset, DNS, TLS).' },
    [AttemptErrorType.HTTP_4XX]: { description: 'The receiver answered 4xx.' },
    [AttemptErrorType.HTTP_5XX]: { description: 'The receiver answered 5xx.' },
    [AttemptErrorType.SSRF_BLOCKED]: { description: 'The URL resolved to a private or reserved address.' },
    [AttemptErrorType.INVALID_RESPONSE]: { description: 'An answer that is neither 2xx, 4xx nor 5xx (a redirect).' },
    [AttemptErrorType.TRANSFORM_ERROR]: {
      description:
        'The webhook’s transform gave no body (it failed, ran over its time, or made no JSON or too much): nothing was sent, and it is not retried.',
    },
  } as const,
})
