import { useEffect, useMemo, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { api, ok, type IncidentReport } from '../api.ts'
import { TimeChart } from '../chart.tsx'
import { count, dateTime, fromLocalInput, href, percent, plural, time, toLocalInput } from '../format.ts'
import { AccountLink, Bar, Card, ErrorNote, IpLink, LockoutLink, Stat } from '../ui.tsx'

const PRESETS = [
  { label: 'Last 15 minutes', minutes: 15 },
  { label: 'Last hour', minutes: 60 },
  { label: 'Last 6 hours', minutes: 360 },
  { label: 'Last 24 hours', minutes: 1440 },
  { label: 'Last 7 days', minutes: 10_080 },
]
/** Spraying sources and distributed targets whose counterparts are listed. */
const DETAILED = 8

type Interval = '1m' | '5m' | '15m' | '1h'
function intervalFor(spanMs: number): Interval {
  const hours = spanMs / 3_600_000
  return hours <= 3 ? '1m' : hours <= 12 ? '5m' : hours <= 48 ? '15m' : '1h'
}

function defaultWindow(minutes = 60) {
  const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000)
  return { from: new Date(to.getTime() - minutes * 60_000).toISOString(), to: to.toISOString() }
}

interface AttackData {
  report: IncidentReport
  volumes: { times: number[]; attempts: number[]; failures: number[]; lockouts: (number | null)[] }
  /** Accounts each spraying IP's failures named, and IPs each distributed target's failures came from. */
  sprayedAccounts: Record<string, string[]>
  attackingIps: Record<string, string[]>
}

/** Distinct values of a field over the failed logins matching a filter (first 1000 events). */
async function distinctOf(filter: { ip?: string; identifier?: string }, field: 'identifier' | 'ip', window: { from: string; to: string }): Promise<string[]> {
  const page = ok(await api.GET('/v1/investigation/events', { params: { query: { ...filter, ...window, event_type: 'login_failed', order: 'newest', limit: 1000 } } }))
  return [...new Set(page.events.map((e) => e[field]).filter((v): v is string => v !== null))].sort()
}

/** The incident report of a window, drawn: who was targeted, from where, what locked, what got in. */
export function AttackView() {
  const { query, route } = useLocation()
  const window = query.from && query.to ? { from: query.from, to: query.to } : defaultWindow()
  const [data, setData] = useState<AttackData | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(false)
  const [draft, setDraft] = useState({ from: toLocalInput(window.from), to: toLocalInput(window.to) })

  useEffect(() => {
    let cancelled = false
    setLoading(true)
    setError(null)
    setDraft({ from: toLocalInput(window.from), to: toLocalInput(window.to) })
    ;(async () => {
      const interval = intervalFor(Date.parse(window.to) - Date.parse(window.from))
      const [report, volumes] = await Promise.all([
        api.GET('/v1/investigation/incident-report', { params: { query: window } }).then(ok),
        api.GET('/v1/investigation/volumes', { params: { query: { ...window, interval } } }).then(ok),
      ])
      const sprayers = report.password_spraying.slice(0, DETAILED)
      const targets = report.distributed_attacks.slice(0, DETAILED)
      const [sprayed, attacking] = await Promise.all([
        Promise.all(sprayers.map((s) => distinctOf({ ip: s.ip }, 'identifier', window))),
        Promise.all(targets.map((t) => distinctOf({ identifier: t.identifier }, 'ip', window))),
      ])
      if (cancelled) return
      setData({
        report,
        volumes: {
          times: volumes.buckets.map((b) => Date.parse(b.start)),
          attempts: volumes.buckets.map((b) => b.login_attempts),
          failures: volumes.buckets.map((b) => b.failures),
          lockouts: volumes.buckets.map((b) => (b.lockouts > 0 ? b.lockouts : null)),
        },
        sprayedAccounts: Object.fromEntries(sprayers.map((s, i) => [s.ip, sprayed[i]!])),
        attackingIps: Object.fromEntries(targets.map((t, i) => [t.identifier, attacking[i]!])),
      })
    })()
      .catch((failure) => !cancelled && setError(failure))
      .finally(() => !cancelled && setLoading(false))
    return () => {
      cancelled = true
    }
  }, [window.from, window.to])

  const choose = (next: { from: string; to: string }) => route(href('/attack', next))

  return (
    <div class="view">
      <div class="view-head">
        <h1>Attack view</h1>
        <p class="muted">
          {dateTime(window.from)} – {dateTime(window.to)}
        </p>
      </div>
      <form
        class="toolbar"
        aria-label="Time window"
        onSubmit={(e) => {
          e.preventDefault()
          choose({ from: fromLocalInput(draft.from), to: fromLocalInput(draft.to) })
        }}
      >
        <label>
          Window
          <select
            onChange={(e) => {
              const minutes = Number((e.target as HTMLSelectElement).value)
              if (minutes > 0) choose(defaultWindow(minutes))
            }}
          >
            <option value="0">Choose…</option>
            {PRESETS.map((p) => (
              <option key={p.minutes} value={p.minutes}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" value={draft.from} required onInput={(e) => setDraft({ ...draft, from: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.to} required onInput={(e) => setDraft({ ...draft, to: (e.target as HTMLInputElement).value })} />
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={error} />
      {loading && !data ? <p class="muted" role="status">Loading the incident report…</p> : null}
      {data ? <AttackBody data={data} window={window} /> : null}
    </div>
  )
}

function AttackBody({ data, window }: { data: AttackData; window: { from: string; to: string } }) {
  const { report, volumes } = data
  const t = report.totals
  const spraying = new Set(report.password_spraying.map((s) => s.ip))
  const distributed = new Set(report.distributed_attacks.map((a) => a.identifier))
  const series = useMemo(
    () => [
      { label: 'Attempts', values: volumes.attempts, color: '#5b9bd5', fill: true },
      { label: 'Failures', values: volumes.failures, color: '#f0883e' },
      { label: 'Lockouts', values: volumes.lockouts, color: '#e5534b', points: true },
    ],
    [volumes],
  )
  const maxAccount = Math.max(0, ...report.targeted_accounts.map((a) => a.failures))
  const maxIp = Math.max(0, ...report.source_ips.map((s) => s.failures))
  return (
    <>
      <div class="stats">
        <Stat label="attempts" value={count(t.login_attempts)} />
        <Stat label="failure rate" value={percent(t.login_attempts > 0 ? t.failures / t.login_attempts : null)} />
        <Stat label="targeted accounts" value={count(t.targeted_accounts)} />
        <Stat label="source IPs" value={count(t.source_ips)} />
        <Stat label="lockouts" value={count(t.lockouts)} tone={t.lockouts > 0 ? 'alert' : undefined} />
        <Stat label="suspicious successes" value={count(t.suspicious_successes)} tone={t.suspicious_successes > 0 ? 'alert' : 'ok'} testId="stat-suspicious" />
      </div>

      {report.suspicious_successes.length > 0 ? (
        <Card title="Successes after failures" class="wide highlight" id="suspicious">
          <ul class="plain" data-testid="suspicious-successes">
            {report.suspicious_successes.map((s) => (
              <li key={s.event_id} class="suspicious">
                <strong>
                  <AccountLink identifier={s.identifier} from={window.from} to={window.to} />
                </strong>{' '}
                signed in at {dateTime(s.occurred_at)} from <IpLink ip={s.ip} from={window.from} to={window.to} /> ({s.channel}) after{' '}
                <strong>{s.preceding_failures} failures</strong>
                {s.ip_seen_in_failures ? <span class="tag alert">same IP as the failures</span> : null}
                <span class="muted"> from {s.failure_ips.join(', ') || 'unknown IPs'}</span>
              </li>
            ))}
          </ul>
        </Card>
      ) : null}

      <Card title="Attempts over the window" class="wide">
        <TimeChart times={volumes.times} series={series} summary={`${t.login_attempts} attempts, ${t.failures} failures, ${t.lockouts} lockouts in the window`} />
      </Card>

      <div class="grid">
        <Card title="Targeted accounts" id="targeted">
          <ol class="ranked" data-testid="targeted-accounts">
            {report.targeted_accounts.map((a) => (
              <li key={a.identifier}>
                <div class="ranked-head">
                  <AccountLink identifier={a.identifier} from={window.from} to={window.to} />
                  {distributed.has(a.identifier) ? <span class="tag alert">distributed</span> : null}
                  {a.lockouts > 0 ? (
                    <LockoutLink identifier={a.identifier}>
                      <span class="tag warn">locked {a.lockouts}×</span>
                    </LockoutLink>
                  ) : null}
                  {a.successes > 0 ? <span class="tag ok">{plural(a.successes, 'success', 'successes')}</span> : null}
                </div>
                <Bar value={a.failures} max={maxAccount} tone="warn" />
                <span class="muted">
                  {plural(a.failures, 'failure')} from {plural(a.distinct_ips, 'IP')}
                </span>
              </li>
            ))}
          </ol>
        </Card>

        <Card title="Source IPs" id="sources">
          <ol class="ranked" data-testid="source-ips">
            {report.source_ips.map((s) => (
              <li key={s.ip} data-ip={s.ip}>
                <div class="ranked-head">
                  <IpLink ip={s.ip} from={window.from} to={window.to} />
                  {spraying.has(s.ip) ? <span class="tag alert">password spraying</span> : null}
                  {s.lockouts_triggered > 0 ? <span class="tag warn">{plural(s.lockouts_triggered, 'lockout')}</span> : null}
                  {s.successes > 0 ? <span class="tag ok">{plural(s.successes, 'success', 'successes')}</span> : null}
                </div>
                <Bar value={s.failures} max={maxIp} tone="warn" />
                <span class="muted">
                  {plural(s.failures, 'failure')} on {plural(s.distinct_accounts, 'account')}
                </span>
                {data.sprayedAccounts[s.ip] ? (
                  <p class="touched">
                    Accounts touched:{' '}
                    {data.sprayedAccounts[s.ip]!.map((identifier, i) => (
                      <span key={identifier}>
                        {i > 0 ? ', ' : ''}
                        <AccountLink identifier={identifier} from={window.from} to={window.to} />
                      </span>
                    ))}
                  </p>
                ) : null}
              </li>
            ))}
          </ol>
        </Card>

        <Card title="Accounts hit from many IPs" id="distributed">
          {report.distributed_attacks.length === 0 ? (
            <p class="muted">None in this window.</p>
          ) : (
            <ul class="plain" data-testid="distributed-attacks">
              {report.distributed_attacks.map((a) => (
                <li key={a.identifier} data-identifier={a.identifier}>
                  <strong>
                    <AccountLink identifier={a.identifier} from={window.from} to={window.to} />
                  </strong>{' '}
                  {plural(a.failures, 'failure')} from {plural(a.distinct_ips, 'IP')}
                  {data.attackingIps[a.identifier] ? (
                    <p class="touched">
                      {data.attackingIps[a.identifier]!.map((ip, i) => (
                        <span key={ip}>
                          {i > 0 ? ', ' : ''}
                          <IpLink ip={ip} from={window.from} to={window.to} />
                        </span>
                      ))}
                    </p>
                  ) : null}
                </li>
              ))}
            </ul>
          )}
        </Card>

        <Card title="Lockout timeline" id="timeline">
          {report.lockout_timeline.length === 0 ? (
            <p class="muted">No lockout in this window.</p>
          ) : (
            <>
              <Timeline entries={report.lockout_timeline} window={window} />
              <ol class="plain timeline-list" data-testid="lockout-timeline">
                {report.lockout_timeline.map((l) => (
                  <li key={l.event_id} class={l.event_type === 'account_locked' ? 'locked' : 'reset'}>
                    <time dateTime={l.occurred_at}>{time(l.occurred_at)}</time>{' '}
                    {l.identifier ? <LockoutLink identifier={l.identifier}>{l.identifier}</LockoutLink> : '–'}{' '}
                    {l.event_type === 'account_locked' ? (
                      <span class="tag alert">locked until {time(l.locked_until)} after {l.failed_attempts} failures</span>
                    ) : (
                      <span class="tag ok">{(l.reason ?? 'reset').replace(/_/g, ' ')}</span>
                    )}
                  </li>
                ))}
              </ol>
            </>
          )}
        </Card>
      </div>
    </>
  )
}

/** Lockouts placed on the window's time axis (decorative: the list below says the same in words). */
function Timeline({ entries, window }: { entries: IncidentReport['lockout_timeline']; window: { from: string; to: string } }) {
  const from = Date.parse(window.from)
  const span = Date.parse(window.to) - from
  return (
    <div class="timeline" aria-hidden="true">
      {entries.map((l) => (
        <span
          key={l.event_id}
          class={`mark ${l.event_type === 'account_locked' ? 'locked' : 'reset'}`}
          style={{ left: `${Math.min(100, Math.max(0, ((Date.parse(l.occurred_at) - from) / span) * 100))}%` }}
          title={`${time(l.occurred_at)} ${l.identifier ?? ''} ${l.event_type}`}
        />
      ))}
    </div>
  )
}
