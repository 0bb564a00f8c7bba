// The page: sign-in, or the signed-in shell (navigation, sign-out) around the screen the URL names.
import { useEffect, useMemo, useState } from 'preact/hooks'
import { LocationProvider, Route, Router, useLocation } from 'preact-iso'
import {
  type Connection,
  closeLiveClient,
  gql,
  liveClient,
  SessionEnded,
  storedToken,
  storeToken,
  whenConnectionChanges,
  whenSessionEnds,
} from './api.ts'
import { Loading } from './components/ui.tsx'
import { Events } from './screens/events.tsx'
import { Integrations } from './screens/integrations.tsx'
import { Live } from './screens/live.tsx'
import { Overview } from './screens/overview.tsx'
import { SignIn } from './screens/sign-in.tsx'
import { WebhookDetail } from './screens/webhook-detail.tsx'
import { WebhookForm } from './screens/webhook-form.tsx'
import { Webhooks } from './screens/webhooks.tsx'
import { type Session, SessionContext, VIEWER_QUERY, type Viewer } from './session.tsx'

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/events', label: 'Events' },
  { href: '/integrations', label: 'Integrations' },
  { href: '/live', label: 'Live' },
]

export function App() {
  const [viewer, setViewer] = useState<Viewer>()
  const [checking, setChecking] = useState(storedToken() !== null)
  const [message, setMessage] = useState<string>()

  const signOut = (reason?: string) => {
    storeToken(null)
    closeLiveClient()
    setViewer(undefined)
    setMessage(reason)
  }

  useEffect(() => {
    whenSessionEnds((reason) => signOut(`Your session ended (${reason}). Sign in again with a valid token.`))
    if (!storedToken()) return
    gql<{ viewer: Viewer }>(VIEWER_QUERY)
      .then(({ viewer }) => setViewer(viewer))
      .catch((error: Error) => {
        if (!(error instanceof SessionEnded)) setMessage(`Could not reach the hub: ${error.message}`)
      })
      .finally(() => setChecking(false))
  }, [])

  useEffect(() => {
    if (viewer) liveClient()
  }, [viewer])

  const session = useMemo<Session | null>(
    () => (viewer ? { ...viewer, canWrite: viewer.scopes.includes('write'), signOut: () => signOut() } : null),
    [viewer],
  )

  if (checking) return <Loading what="your session" />
  if (!session) {
    return (
      <SignIn
        message={message}
        onSignedIn={(token, signedIn) => {
          storeToken(token)
          setMessage(undefined)
          setViewer(signedIn)
        }}
      />
    )
  }
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider>
        <Shell session={session} />
      </LocationProvider>
    </SessionContext.Provider>
  )
}

function Shell({ session }: { session: Session }) {
  const { path } = useLocation()
  const [connection, setConnection] = useState<Connection>('connecting')
  useEffect(() => whenConnectionChanges(setConnection), [])
  const current = (href: string) => (href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`))
  useEffect(() => {
    document.getElementById('page-title')?.focus({ preventScroll: true })
  }, [path])
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Switchyard</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map(({ href, label }) => (
              <li key={href}>
                <a href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {session.tenant}
            {!session.canWrite && <span class="badge neutral">read-only</span>}
          </span>
          <button type="button" onClick={() => session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {connection === 'reconnecting' && (
        <p class="connection" role="status">
          The live connection to the hub was lost; reconnecting…
        </p>
      )}
      <main id="main">
        <Router>
          <Route path="/" component={Overview} />
          <Route path="/webhooks" component={Webhooks} />
          <Route path="/webhooks/new" component={WebhookForm} />
          <Route path="/webhooks/:id/edit" component={WebhookForm} />
          <Route path="/webhooks/:id" component={WebhookDetail} />
          <Route path="/events" component={Events} />
          <Route path="/integrations" component={Integrations} />
          <Route path="/integrations/:name" component={Integrations} />
          <Route path="/live" component={Live} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </div>
  )
}

function NotFound() {
  return (
    <p>
      There is no such page. <a href="/">Go to the overview</a>.
    </p>
  )
}
