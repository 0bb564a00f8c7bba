// The fields screens share, and their shapes.
import type { PageInfo } from './components/ui.tsx'

export const WEBHOOK_ROW = `id name url description events isActive disabledReason disabledAt consecutiveFailures
  successRate lastTriggeredAt createdAt secretHint
  deliveryStats { totalDeliveries successfulDeliveries failedDeliveries successRate p95ResponseTimeMs avgResponseTimeMs }`

export interface WebhookRow {
  id: string
  name: string
  url: string
  description: string
  events: string[]
  isActive: boolean
  disabledReason: string | null
  disabledAt: string | null
  consecutiveFailures: number
  successRate: number | null
  lastTriggeredAt: string | null
  createdAt: string
  secretHint: string
  deliveryStats: {
    totalDeliveries: number
    successfulDeliveries: number
    failedDeliveries: number
    successRate: number | null
    p95ResponseTimeMs: number | null
    avgResponseTimeMs: number | null
  }
}

export interface Connection<T> {
  edges: { node: T }[]
  pageInfo: PageInfo
}

export const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }'

export const DELIVERY_STATUSES = ['SUCCEEDED', 'FAILED', 'RETRYING', 'PENDING', 'DEAD'] as const

export const ERROR_TYPE_NAMES: Record<string, string> = {
  CONNECTION_ERROR: 'Connection error',
  HTTP_4XX: 'HTTP 4xx',
  HTTP_5XX: 'HTTP 5xx',
  INVALID_RESPONSE: 'Invalid response',
  SSRF_BLOCKED: 'Blocked address',
  TIMEOUT: 'Timeout',
  TRANSFORM_ERROR: 'Transform error',
}

export type PayloadFormat = 'STANDARD' | 'STRAPI'

export const PAYLOAD_FORMATS: Record<PayloadFormat, { label: string; hint: string }> = {
  STANDARD: {
    label: 'Standard Webhooks',
    hint: 'The body { id, type, createdAt, data }, signed with the Standard Webhooks headers.',
  },
  STRAPI: {
    label: 'Strapi',
    hint: "Strapi's body { event, createdAt, …the payload's fields }, with X-Strapi-Event and X-Strapi-Signature as well.",
  },
}
