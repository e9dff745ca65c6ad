import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { LocationProvider, Route, Router, useLocation } from 'preact-iso'
import 'uplot/dist/uPlot.min.css'
import './console.css'
import { currentSession, onSessionChange, refreshSession, signIn, signOut, type Overview, type Session } from './api.ts'
import { href } from './format.ts'
import { followOverview, LiveContext, type LiveState } from './live.ts'
import { ErrorNote } from './ui.tsx'
import { AttackView } from './views/attack.tsx'
import { EventsView } from './views/events.tsx'
import { LockoutView } from './views/lockout.tsx'
import { OverviewView } from './views/overview.tsx'

function SignIn() {
  const { query } = useLocation()
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  return (
    <main class="signin" id="main">
      <form
        class="card"
        aria-labelledby="signin-title"
        onSubmit={async (e) => {
          e.preventDefault()
          const form = new FormData(e.currentTarget as HTMLFormElement)
          setBusy(true)
          setError(null)
          try {
            await signIn(String(form.get('tenant')), String(form.get('identifier')), String(form.get('password')))
          } catch (failure) {
            setError(failure)
          } finally {
            setBusy(false)
          }
        }}
      >
        <h1 id="signin-title">authtrail console</h1>
        <p class="muted">Sign in as an auditor or an administrator of your tenant.</p>
        <label>
          Tenant
          <input name="tenant" required autocomplete="organization" defaultValue={query.tenant ?? ''} />
        </label>
        <label>
          Email or identifier
          <input name="identifier" required autocomplete="username" />
        </label>
        <label>
          Password
          <input name="password" type="password" required autocomplete="current-password" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  )
}

const LockoutRoute = ({ identifier }: { identifier: string }) => <LockoutView identifier={decodeURIComponent(identifier)} />
const NotFound = () => (
  <p>
    No such page. <a href={href('/')}>Back to the overview</a>
  </p>
)

function Shell({ session }: { session: Session }) {
  const { path } = useLocation()
  const [overview, setOverview] = useState<Overview | null>(null)
  const [live, setLive] = useState<LiveState>('connecting')
  // One stream for the whole session: the overview also tells the other views what the plan allows.
  useEffect(() => followOverview(setOverview, setLive), [session.token])
  useEffect(() => {
    // Two thirds into the access token's life, rotate the refresh token for a new one (the stream follows
    // the new token); a refused refresh signs out.
    const left = session.expiresAt * 1000 - Date.now()
    const timer = setTimeout(() => void refreshSession(), Math.max(0, left - Math.min(60_000, left / 3)))
    return () => clearTimeout(timer)
  }, [session.expiresAt])
  const nav = [
    { to: href('/'), label: 'Overview', active: path === '/console/' || path === '/console' },
    { to: href('/attack'), label: 'Attack view', active: path.startsWith('/console/attack') },
    { to: href('/events'), label: 'Events', active: path.startsWith('/console/events') || path.startsWith('/console/lockouts') },
  ]
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">authtrail</span>
        <nav aria-label="Console">
          {nav.map((n) => (
            <a key={n.to} href={n.to} aria-current={n.active ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {overview?.tenant.name ?? session.tenant} · {session.identifier} <span class="tag">{session.role}</span>
        </span>
        <button type="button" class="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <LiveContext.Provider value={{ overview, state: live }}>
          <Router>
            <Route path="/console" component={OverviewView} />
            <Route path="/console/" component={OverviewView} />
            <Route path="/console/attack" component={AttackView} />
            <Route path="/console/events" component={EventsView} />
            <Route path="/console/lockouts/:identifier" component={LockoutRoute} />
            <Route default component={NotFound} />
          </Router>
        </LiveContext.Provider>
      </main>
    </>
  )
}

function App() {
  const [session, setCurrent] = useState<Session | null>(currentSession())
  useEffect(() => onSessionChange(setCurrent), [])
  return <LocationProvider scope="/console">{session ? <Shell session={session} /> : <SignIn />}</LocationProvider>
}

render(<App />, document.getElementById('app')!)
