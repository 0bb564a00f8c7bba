// Deliveries over time (successful and failed), drawn with uPlot.
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface Bucket {
  bucket: string
  successful: number
  failed: number
}

/** Half-width bars, successful left of each bucket's tick and failed right of it. */
const bars = (align: -1 | 1) => uPlot.paths.bars?.({ size: [0.35, 24], align })

export function DeliveriesChart({ buckets, label }: { buckets: Bucket[]; label: string }) {
  const host = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const element = host.current
    if (!element) return
    const data: uPlot.AlignedData = [
      buckets.map((b) => new Date(b.bucket).getTime() / 1000),
      buckets.map((b) => b.successful),
      buckets.map((b) => b.failed),
    ]
    const times = data[0]
    const step = times.length > 1 ? (times[1] ?? 0) - (times[0] ?? 0) : 3600
    const plot = new uPlot(
      {
        width: element.clientWidth || 600,
        height: 220,
        scales: {
          // Half a bucket of room on each side, so the first and last buckets' bars show whole.
          x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: [{}, { size: 50 }],
        series: [
          {},
          {
            label: 'Successful',
            stroke: '#1a7f37',
            fill: 'rgba(26,127,55,0.55)',
            width: 0,
            paths: bars(-1),
            points: { show: false },
          },
          {
            label: 'Failed',
            stroke: '#cf222e',
            fill: 'rgba(207,34,46,0.55)',
            width: 0,
            paths: bars(1),
            points: { show: false },
          },
        ],
      },
      data,
      element,
    )
    const resize = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height: 220 }))
    resize.observe(element)
    return () => {
      resize.disconnect()
      plot.destroy()
    }
  }, [buckets])
  const successful = buckets.reduce((sum, b) => sum + b.successful, 0)
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0)
  const bar = barOf(buckets)
  return (
    <figure class="chart">
      <div ref={host} role="img" aria-label={`${label}: ${successful} successful and ${failed} failed deliveries`} />
      <figcaption class="muted">
        {successful} successful · {failed} failed{bar && ` · one bar per ${bar}`}
      </figcaption>
    </figure>
  )
}

const HOUR_MS = 3_600_000
const BAR_NAMES = new Map([
  [HOUR_MS, 'hour'],
  [24 * HOUR_MS, 'day'],
  [7 * 24 * HOUR_MS, 'week'],
])

/** What one bar spans, read off the buckets themselves (not off the choice that asked for them). */
function barOf(buckets: Bucket[]): string | undefined {
  const [first, second] = buckets
  if (!first || !second) return undefined
  return BAR_NAMES.get(new Date(second.bucket).getTime() - new Date(first.bucket).getTime())
}

/** The buckets of several webhooks' series, added up bucket by bucket. */
export function sumBuckets(series: Bucket[][]): Bucket[] {
  const byTime = new Map<string, Bucket>()
  for (const buckets of series) {
    for (const { bucket, successful, failed } of buckets) {
      const sum = byTime.get(bucket) ?? { bucket, successful: 0, failed: 0 }
      sum.successful += successful
      sum.failed += failed
      byTime.set(bucket, sum)
    }
  }
  return [...byTime.values()].sort((a, b) => a.bucket.localeCompare(b.bucket))
}
