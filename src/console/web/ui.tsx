import type { ComponentChildren } from 'preact'
import { ProblemError } from './api.ts'
import { eventsHref, lockoutHref } from './format.ts'

export function Card({ title, children, class: className = '', id }: { title: string; children: ComponentChildren; class?: string; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-title`
  return (
    <section class={`card ${className}`} aria-labelledby={headingId} id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  )
}

export function Stat({ label, value, tone, testId }: { label: string; value: ComponentChildren; tone?: 'alert' | 'warn' | 'ok'; testId?: string }) {
  return (
    <div class={`stat ${tone ?? ''}`} data-testid={testId}>
      <span class="stat-value">{value}</span>
      <span class="stat-label">{label}</span>
    </div>
  )
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null
  const message = error instanceof ProblemError ? `${error.problem.title}: ${error.message}` : error instanceof Error ? error.message : String(error)
  return (
    <p class="error" role="alert">
      {message}
    </p>
  )
}

export const IpLink = ({ ip, from, to }: { ip: string | null; from?: string; to?: string }) =>
  ip ? (
    <a href={eventsHref({ ip, from, to })} class="mono" title={`Events from ${ip}`}>
      {ip}
    </a>
  ) : (
    <span class="muted">–</span>
  )

export const AccountLink = ({ identifier, from, to }: { identifier: string | null; from?: string; to?: string }) =>
  identifier ? (
    <a href={eventsHref({ identifier, from, to })} title={`Events of ${identifier}`}>
      {identifier}
    </a>
  ) : (
    <span class="muted">–</span>
  )

export const LockoutLink = ({ identifier, children }: { identifier: string; children?: ComponentChildren }) => (
  <a href={lockoutHref(identifier)} title={`Lockouts of ${identifier}`}>
    {children ?? 'lockouts'}
  </a>
)

/** A horizontal bar for ranked lists: the value relative to the largest one. */
export const Bar = ({ value, max, tone }: { value: number; max: number; tone?: string }) => (
  <span class={`bar ${tone ?? ''}`} aria-hidden="true">
    <span style={{ width: `${max > 0 ? Math.max(2, (value / max) * 100) : 0}%` }} />
  </span>
)

export const Outcome = ({ type, outcome, reason }: { type: string; outcome: string; reason?: string | null }) => (
  <span class={`tag ${type === 'account_locked' ? 'alert' : outcome === 'failure' ? 'warn' : 'ok'}`}>
    {type.replace(/_/g, ' ')}
    {reason ? <span class="reason"> · {reason.replace(/_/g, ' ')}</span> : null}
  </span>
)

/**
 * A table with its column headings that scrolls sideways inside its card on narrow screens; with `stack`,
 * a phone shows each row's cells wrapped on lines of their own instead, so that no column is out of sight.
 */
export function Table({ columns, testId, caption, stack, children }: { columns: string[]; testId?: string; caption?: string; stack?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table data-testid={testId} class={stack ? 'stack' : undefined}>
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )
}

/** The cells every list of events shares: what happened, to which account, from which address. */
export const EventCells = ({ event }: { event: { event_type: string; outcome: string; reason: string | null; identifier: string | null; ip: string | null } }) => (
  <>
    <td>
      <Outcome type={event.event_type} outcome={event.outcome} reason={event.reason} />
    </td>
    <td>
      <AccountLink identifier={event.identifier} />
    </td>
    <td>
      <IpLink ip={event.ip} />
    </td>
  </>
)
