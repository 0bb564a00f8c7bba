// Who is signed in, and whether the token may change anything (scope `write`).
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'

export interface Session {
  tenant: string
  scopes: string[]
  /** A `read` token sees everything and is offered no action. */
  canWrite: boolean
  signOut(message?: string): void
}

export const SessionContext = createContext<Session | null>(null)

export function useSession(): Session {
  const session = useContext(SessionContext)
  if (!session) throw new Error('useSession outside a signed-in page')
  return session
}

export const VIEWER_QUERY = 'query Viewer { viewer { tenant scopes } }'

export interface Viewer {
  tenant: string
  scopes: string[]
}
