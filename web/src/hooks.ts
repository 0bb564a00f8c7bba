// Loading data from the hub into a component.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { gql, SessionEnded } from './api.ts'

export interface Loaded<T> {
  data?: T
  error?: string
  loading: boolean
  /** The data answers earlier variables (a list keeps its rows while a new filter loads; a chart should not). */
  stale: boolean
  /** Loads again (after a mutation, or a live update), keeping the current data on screen meanwhile. */
  reload(): void
}

/** Runs the query now, and again whenever its variables change; the latest answer wins. */
export function useQuery<T>(query: string, variables: Record<string, unknown> = {}): Loaded<T> {
  const key = JSON.stringify(variables)
  const [state, setState] = useState<{ key?: string; data?: T; error?: string; loading: boolean }>({ loading: true })
  const [round, setRound] = useState(0)
  const latest = useRef(0)
  useEffect(() => {
    const ticket = ++latest.current
    setState((previous) => ({ ...previous, loading: true }))
    gql<T>(query, JSON.parse(key)).then(
      (data) => ticket === latest.current && setState({ key, data, loading: false }),
      (error: Error) => {
        if (error instanceof SessionEnded || ticket !== latest.current) return
        setState((previous) => ({ ...previous, error: error.message, loading: false }))
      },
    )
  }, [query, key, round])
  const reload = useCallback(() => setRound((n) => n + 1), [])
  return { data: state.data, error: state.error, loading: state.loading, stale: state.key !== key, reload }
}

/** Runs `effect` after `ms` without a new call; for reloading once after a burst of live updates. */
export function useDebounced(effect: () => void, ms: number): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const current = useRef(effect)
  current.current = effect
  useEffect(() => () => clearTimeout(timer.current), [])
  return useCallback(() => {
    clearTimeout(timer.current)
    timer.current = setTimeout(() => current.current(), ms)
  }, [ms])
}
