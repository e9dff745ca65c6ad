import { useContext, useMemo, useState } from 'preact/hooks'
import { api, ok, type Overview } from '../api.ts'
import { TimeChart } from '../chart.tsx'
import { count, dateTime, duration, percent, time } from '../format.ts'
import { LiveContext, type LiveState } from '../live.ts'
import { Card, ErrorNote, EventCells, LockoutLink, Stat, Table } from '../ui.tsx'

const LIVE_LABEL: Record<LiveState, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected' }

/** The live overview: everything on it arrives pushed by the server (Server-Sent Events, followed by the app). */
export function OverviewView() {
  const { overview, state } = useContext(LiveContext)
  return (
    <div class="view">
      <div class="view-head">
        <h1>Live overview</h1>
        <p class={`live ${state}`} role="status" data-testid="live-state">
          <span class="dot" aria-hidden="true" /> {LIVE_LABEL[state]}
          {overview ? <span class="muted"> · updated {time(overview.as_of)}</span> : null}
        </p>
      </div>
      {overview ? <OverviewBody overview={overview} /> : <p class="muted">Waiting for the first update…</p>}
    </div>
  )
}

function OverviewBody({ overview }: { overview: Overview }) {
  const { totals, channels, locked_accounts: locked } = overview
  const times = useMemo(() => overview.minutes.map((m) => Date.parse(m.start)), [overview])
  const series = useMemo(
    () => [
      { label: 'Attempts', values: overview.minutes.map((m) => m.attempts), color: '#5b9bd5', fill: true },
      { label: 'Failures', values: overview.minutes.map((m) => m.failures), color: '#f0883e' },
      { label: 'Failure rate', values: overview.minutes.map((m) => m.failure_rate), color: '#e5534b', percent: true },
    ],
    [overview],
  )
  return (
    <>
      <div class="stats" aria-label="Last hour">
        <Stat label="attempts, last hour" value={count(totals.attempts)} testId="stat-attempts" />
        <Stat label="failure rate" value={percent(totals.failure_rate)} tone={(totals.failure_rate ?? 0) > 0.5 ? 'alert' : undefined} testId="stat-failure-rate" />
        <Stat label="locked now" value={count(locked.count)} tone={locked.count > 0 ? 'alert' : 'ok'} testId="stat-locked" />
        <Stat label="lockouts, last hour" value={count(totals.lockouts)} />
        {channels.map((c) => (
          <Stat key={c.channel} label={`${c.channel} logins (${count(c.failures)} failed)`} value={count(c.attempts)} testId={`stat-channel-${c.channel}`} />
        ))}
      </div>
      <Card title="Attempts and failure rate per minute" class="wide">
        <TimeChart times={times} series={series} summary={`Last hour: ${totals.attempts} attempts, ${totals.failures} failures, failure rate ${percent(totals.failure_rate)}`} />
      </Card>
      <div class="grid">
        <Card title="Latest attempts" id="recent" class="span-all">
          <Table columns={['Time', 'Event', 'Account', 'IP', 'Channel']} testId="recent-events" stack>
            {overview.recent_events.map((e) => (
              <tr key={e.event_id} data-event-id={e.event_id}>
                <td>{time(e.occurred_at)}</td>
                <EventCells event={e} />
                <td>{e.channel}</td>
              </tr>
            ))}
          </Table>
          {overview.recent_events.length === 0 ? <p class="muted">No attempts in the last hour.</p> : null}
        </Card>
        <Card title="Locked accounts" id="locked">
          {locked.count === 0 ? (
            <p class="muted">No account is locked.</p>
          ) : (
            <>
              <Table columns={['Account', 'Locked until', 'Lockouts']} testId="locked-accounts">
                {locked.accounts.map((a) => (
                  <tr key={a.identifier}>
                    <td>
                      <LockoutLink identifier={a.identifier}>{a.identifier}</LockoutLink>
                    </td>
                    <td>{time(a.locked_until)}</td>
                    <td>{a.lockout_count}</td>
                  </tr>
                ))}
              </Table>
              {locked.count > locked.accounts.length ? <p class="muted">and {locked.count - locked.accounts.length} more</p> : null}
            </>
          )}
        </Card>
        <ChainCard chain={overview.chain} />
        <RelayCard sinks={overview.relay.sinks} />
      </div>
    </>
  )
}

type Sink = Overview['relay']['sinks'][number]

function RelayCard({ sinks }: { sinks: Sink[] }) {
  return (
    <Card title="Relay health" id="relay">
      {sinks.length === 0 ? (
        <p class="muted">No sink is configured in this process.</p>
      ) : (
        <Table columns={['Sink', 'Backlog', 'Lag', 'Dead letters', 'Last error']} testId="relay" stack>
          {sinks.map((s) => {
            // Sinks report their last failure once the relay records it (a field later versions add).
            const failure = (s as Sink & { last_failure?: { at: string; error: string } | null }).last_failure
            return (
              <tr key={s.sink} class={s.dead_letters > 0 || s.retrying_chains > 0 ? 'row-alert' : ''}>
                <th scope="row">{s.sink}</th>
                <td>{count(s.undelivered)}</td>
                <td>{duration(s.lag_seconds)}</td>
                <td>{count(s.dead_letters)}</td>
                <td>{failure ? `${time(failure.at)} ${failure.error}` : s.retrying_chains > 0 ? `${s.retrying_chains} chains retrying` : <span class="muted">none</span>}</td>
              </tr>
            )
          })}
        </Table>
      )}
    </Card>
  )
}

function ChainCard({ chain }: { chain: Overview['chain'] }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  // The result arrives pushed like the rest: the verification is recorded, and the stream's next overview carries it.
  const verify = async () => {
    setBusy(true)
    setError(null)
    try {
      ok(await api.GET('/v1/audit/verify'))
    } catch (failure) {
      setError(failure)
    } finally {
      setBusy(false)
    }
  }
  const last = chain.last_verification
  const checkpoint = chain.last_checkpoint
  const by = last ? (last.via === 'command' ? 'the verify command' : (last.verified_by?.identifier ?? 'a removed account')) : ''
  return (
    <Card title="Hash chain" id="chain">
      <p>
        {count(chain.events)} events in {chain.shards} chains.
      </p>
      <div class="chain-row">
        <div>
          <h3>Last verification</h3>
          {last ? (
            <p class={last.ok ? 'ok-text' : 'alert-text'} data-testid="verification">
              {last.ok
                ? `Intact: ${count(last.verified_events)} events verified`
                : `Broken at shard ${last.first_break?.shard}, seq ${last.first_break?.seq} (${last.first_break?.reason}${last.first_break?.anchor ? `, against the ${last.first_break.anchor} checkpoint` : ''})`}
              <span class="detail">
                {dateTime(last.verified_at)} by {by}
                {last.signatures_checked ? '' : ' (signatures not checked: no keys)'}
              </span>
            </p>
          ) : (
            <p class="muted" data-testid="verification">Never verified.</p>
          )}
          <button type="button" onClick={verify} disabled={busy}>
            {busy ? 'Verifying…' : 'Verify the chain now'}
          </button>
          <ErrorNote error={error} />
        </div>
        <div>
          <h3>Last signed checkpoint</h3>
          {checkpoint ? (
            <p data-testid="checkpoint">
              Shard {checkpoint.shard} at seq {count(checkpoint.seq)}
              <span class="detail">
                {dateTime(checkpoint.signed_at)}, key <code title={checkpoint.key_id}>{checkpoint.key_id.slice(0, 12)}…</code>
              </span>
            </p>
          ) : (
            <p class="muted" data-testid="checkpoint">No signed checkpoint yet.</p>
          )}
        </div>
      </div>
    </Card>
  )
}
