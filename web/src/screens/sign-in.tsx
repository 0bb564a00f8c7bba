import { useState } from 'preact/hooks'
import { gql } from '../api.ts'
import { Field, Notice } from '../components/ui.tsx'
import { VIEWER_QUERY, type Viewer } from '../session.tsx'

/** One field, "Token", and "Sign in": the token is checked with the hub before it is kept. */
export function SignIn({ message, onSignedIn }: { message?: string; onSignedIn(token: string, viewer: Viewer): void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  async function submit(event: Event) {
    event.preventDefault()
    const trimmed = token.trim().replace(/^Bearer\s+/i, '')
    if (!trimmed) {
      setError('Paste a token (npm run token -- --tenant <name>).')
      return
    }
    setBusy(true)
    setError(undefined)
    try {
      const { viewer } = await gql<{ viewer: Viewer }>(VIEWER_QUERY, {}, trimmed)
      onSignedIn(trimmed, viewer)
    } catch (failure) {
      setError(`The hub refused this token: ${(failure as Error).message}`)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title" noValidate>
        <h1 id="sign-in-title">Switchyard</h1>
        <p class="muted">Sign in with a tenant's API token.</p>
        {message && <Notice tone="warn">{message}</Notice>}
        <Field
          label="Token"
          hint="Kept in this tab only (sessionStorage) until you sign out or close it."
          error={error}
        >
          {(props) => (
            <input
              {...props}
              type="password"
              name="token"
              autoComplete="off"
              spellcheck={false}
              value={token}
              onInput={(event) => setToken(event.currentTarget.value)}
            />
          )}
        </Field>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  )
}
