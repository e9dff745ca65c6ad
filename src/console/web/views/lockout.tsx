import { useEffect, useRef, useState } from 'preact/hooks'
import { api, currentSession, ok, ProblemError, type Schemas } from '../api.ts'
import { dateTime, duration, eventsHref } from '../format.ts'
import { Card, ErrorNote, IpLink, Table } from '../ui.tsx'

type Status = Schemas['LockoutStatus']
type Diagnostics = Schemas['LockoutDiagnostics']

/** An account's lockout state and, for each lockout, the attempts that caused it; admins may unlock. */
export function LockoutView({ identifier }: { identifier: string }) {
  const [status, setStatus] = useState<Status | null | 'none'>(null)
  const [diagnostics, setDiagnostics] = useState<Diagnostics | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [generation, setGeneration] = useState(0)
  const isAdmin = currentSession()?.role === 'admin'

  useEffect(() => {
    let cancelled = false
    const path = { params: { path: { identifier } } }
    Promise.all([
      api.GET('/v1/investigation/lockouts/{identifier}', path).then((r) => (r.response.status === 404 ? 'none' : ok(r))),
      api.GET('/v1/investigation/lockouts/{identifier}/diagnostics', { params: { path: { identifier }, query: { limit: 20 } } }).then(ok),
    ])
      .then(([s, d]) => {
        if (cancelled) return
        setStatus(s as Status | 'none')
        setDiagnostics(d)
      })
      .catch((failure) => !cancelled && setError(failure))
    return () => {
      cancelled = true
    }
  }, [identifier, generation])

  const current = status && status !== 'none' ? status : null
  return (
    <div class="view">
      <div class="view-head">
        <h1>
          Lockouts of <span class="mono">{identifier}</span>
        </h1>
        <a href={eventsHref({ identifier })}>All events of this account</a>
      </div>
      <ErrorNote error={error} />
      <Card title="State now" id="state">
        {status === 'none' ? <p class="muted">No lockout state: this identifier was never attempted in your scope.</p> : null}
        {current ? (
          <>
            <p class={current.locked ? 'alert-text' : 'ok-text'} data-testid="lock-state">
              {current.locked ? `Locked until ${dateTime(current.account_locked_until)} (${duration(current.retry_after_seconds ?? 0)} left)` : 'Not locked'}
            </p>
            <dl class="facts">
              <dt>Failed attempts in the window</dt>
              <dd>{current.failed_login_attempts}</dd>
              <dt>Failures until the next lockout</dt>
              <dd>{current.failures_until_lockout}</dd>
              <dt>Lockouts so far</dt>
              <dd>{current.lockout_count}</dd>
              <dt>Last failure</dt>
              <dd>{dateTime(current.last_failed_at)}</dd>
            </dl>
            {isAdmin && current.locked ? <UnlockButton identifier={identifier} onUnlocked={() => setGeneration(generation + 1)} /> : null}
          </>
        ) : null}
      </Card>
      <Card title="Lockouts and their causes" class="wide" id="diagnostics">
        {diagnostics && diagnostics.lockouts.length === 0 ? <p class="muted">No lockout recorded.</p> : null}
        <ol class="plain" data-testid="diagnostics">
          {diagnostics?.lockouts.map((l) => (
            <li key={l.lock_event_id} class="lockout">
              <h3>
                Locked {dateTime(l.locked_at)} until {dateTime(l.locked_until)} after {l.failed_attempts} failures
              </h3>
              <p>
                From {l.distinct_ips.length} IPs:{' '}
                {l.distinct_ips.map((ip, i) => (
                  <span key={ip}>
                    {i > 0 ? ', ' : ''}
                    <IpLink ip={ip} />
                  </span>
                ))}
                . {l.attempts_while_locked} attempts while locked.{' '}
                {l.ended_by ? `Ended ${dateTime(l.ended_by.occurred_at)} (${(l.ended_by.reason ?? '').replace(/_/g, ' ')}${l.ended_by.actor_id ? ' by an administrator' : ''}).` : 'Not ended by an event yet.'}
              </p>
              <Table columns={['Time', 'IP', 'Channel', 'User agent']} caption="Failures that triggered it" stack>
                {l.triggering_failures.map((f) => (
                  <tr key={f.event_id}>
                    <td>{dateTime(f.occurred_at)}</td>
                    <td>
                      <IpLink ip={f.ip} />
                    </td>
                    <td>{f.channel}</td>
                    <td class="ua">{f.user_agent ?? '–'}</td>
                  </tr>
                ))}
              </Table>
            </li>
          ))}
        </ol>
      </Card>
    </div>
  )
}

/** The administrator's unlock: asks first, then POST /v1/admin/lockouts/{identifier}/unlock (audited as lockout_reset). */
function UnlockButton({ identifier, onUnlocked }: { identifier: string; onUnlocked: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null)
  const [error, setError] = useState<unknown>(null)
  const [result, setResult] = useState<string | null>(null)
  const unlock = async () => {
    setError(null)
    try {
      const answer = ok(await api.POST('/v1/admin/lockouts/{identifier}/unlock', { params: { path: { identifier } } }))
      setResult(answer.status === 'unlocked' ? `Unlocked; recorded as event ${answer.event_id}.` : 'It was no longer locked; nothing was written.')
      dialog.current?.close()
      onUnlocked()
    } catch (failure) {
      setError(failure instanceof ProblemError ? failure : new Error(String(failure)))
    }
  }
  return (
    <div class="unlock">
      <button type="button" class="danger" onClick={() => dialog.current?.showModal()} data-testid="unlock">
        Unlock this account…
      </button>
      {result ? <p role="status">{result}</p> : null}
      <dialog ref={dialog} aria-labelledby="unlock-title">
        <h2 id="unlock-title">Unlock {identifier}?</h2>
        <p>The lockout is cleared at once and the unlock is recorded in the audit trail with you as its actor.</p>
        <ErrorNote error={error} />
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()} autofocus>
            Cancel
          </button>
          <button type="button" class="danger" onClick={unlock} data-testid="confirm-unlock">
            Unlock
          </button>
        </div>
      </dialog>
    </div>
  )
}
