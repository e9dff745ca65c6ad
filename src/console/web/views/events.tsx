import { useContext, useEffect, useState } from 'preact/hooks'
import { useLocation } from 'preact-iso'
import { api, currentSession, ok, type InvestigatedEvent } from '../api.ts'
import { LiveContext } from '../live.ts'
import { dateTime, eventsHref, fromLocalInput, toLocalInput } from '../format.ts'
import { Card, ErrorNote, EventCells, LockoutLink, Table } from '../ui.tsx'

const EVENT_TYPES = ['login_failed', 'login_success', 'account_locked', 'lockout_reset', 'registration_succeeded', 'registration_failed', 'audit_exported', 'retention_purged', 'dead_letters_redriven']
const FILTERS = ['ip', 'identifier', 'user_id', 'event_type', 'channel', 'outcome', 'from', 'to'] as const
type Filter = Partial<Record<(typeof FILTERS)[number], string>>
const PAGE_SIZE = 50

function filterOf(query: Record<string, string>): Filter {
  return Object.fromEntries(FILTERS.filter((k) => query[k]).map((k) => [k, query[k]]))
}

/** Events matching a filter, one keyset page at a time (GET /v1/investigation/events), with export. */
export function EventsView() {
  const { overview } = useContext(LiveContext)
  const { query, route } = useLocation()
  const filter = filterOf(query)
  const key = JSON.stringify(filter)
  const [draft, setDraft] = useState<Filter>(filter)
  // Cursors of the pages before the current one, so that "Previous" can go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null])
  const [page, setPage] = useState<{ events: InvestigatedEvent[]; next_cursor: string | null } | null>(null)
  const [error, setError] = useState<unknown>(null)

  useEffect(() => {
    setDraft(filter)
    setCursors([null])
  }, [key])

  const cursor = cursors[cursors.length - 1] ?? null
  useEffect(() => {
    let cancelled = false
    setError(null)
    api
      .GET('/v1/investigation/events', { params: { query: { ...filter, order: 'newest', limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } as never } })
      .then(ok)
      .then((next) => !cancelled && setPage(next))
      .catch((failure) => !cancelled && setError(failure))
    return () => {
      cancelled = true
    }
  }, [key, cursor])

  const field = (name: keyof Filter, label: string, props: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input name={name} value={draft[name] ?? ''} onInput={(e) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value })} {...props} />
    </label>
  )
  const choice = (name: keyof Filter, label: string, options: string[]) => (
    <label>
      {label}
      <select name={name} value={draft[name] ?? ''} onChange={(e) => setDraft({ ...draft, [name]: (e.target as HTMLSelectElement).value })}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o.replace(/_/g, ' ')}
          </option>
        ))}
      </select>
    </label>
  )
  const timeField = (name: 'from' | 'to', label: string) => (
    <label>
      {label}
      <input
        type="datetime-local"
        name={name}
        value={draft[name] ? toLocalInput(draft[name]!) : ''}
        onInput={(e) => {
          const value = (e.target as HTMLInputElement).value
          setDraft({ ...draft, [name]: value ? fromLocalInput(value) : '' })
        }}
      />
    </label>
  )

  return (
    <div class="view">
      <div class="view-head">
        <h1>Events</h1>
        {filter.identifier ? <LockoutLink identifier={filter.identifier}>Lockouts of {filter.identifier}</LockoutLink> : null}
      </div>
      <form
        class="toolbar filters"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault()
          route(eventsHref(draft))
        }}
      >
        {field('ip', 'IP or CIDR', { placeholder: '203.0.113.0/24', inputMode: 'text' })}
        {field('identifier', 'Account', { placeholder: 'alice@example.com' })}
        {field('user_id', 'User id')}
        {choice('event_type', 'Event type', EVENT_TYPES)}
        {choice('channel', 'Channel', ['web', 'mobile', 'admin', 'system'])}
        {choice('outcome', 'Outcome', ['success', 'failure'])}
        {timeField('from', 'From')}
        {timeField('to', 'To')}
        <div class="actions">
          <button type="submit">Apply</button>
          <a href={eventsHref({})} class="button secondary">
            Clear
          </a>
        </div>
      </form>
      <ErrorNote error={error} />
      {overview?.tenant.can_download ? <ExportPanel filter={filter} /> : null}
      <Card title="Matching events" class="wide" id="events">
        <Table columns={['Time', 'Event', 'Account', 'IP', 'Channel', 'User agent']} testId="events" stack>
          {page?.events.map((e) => (
            <tr key={e.id} data-event-id={e.id}>
              <td>{dateTime(e.occurred_at)}</td>
              <EventCells event={e} />
              <td>
                {e.channel}
                {e.device_id ? <span class="muted"> · {e.device_id}</span> : null}
              </td>
              <td class="ua">{e.user_agent ?? '–'}</td>
            </tr>
          ))}
        </Table>
        {page && page.events.length === 0 ? <p class="muted">No event matches.</p> : null}
        <nav class="pager" aria-label="Pages">
          <button type="button" class="secondary" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
          <span class="muted">Page {cursors.length}</span>
          <button type="button" disabled={!page?.next_cursor} onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}>
            Next page
          </button>
        </nav>
      </Card>
    </div>
  )
}

const FORMATS = [
  { value: 'ndjson', label: 'NDJSON' },
  { value: 'csv', label: 'CSV' },
  { value: 'cef', label: 'CEF' },
] as const

/**
 * Downloads the trail of the filter's time range (GET /v1/admin/export, audited as audit_exported). The
 * export route filters by time only; the other filters narrow the table above, not the file.
 */
function ExportPanel({ filter }: { filter: Filter }) {
  const [format, setFormat] = useState<(typeof FORMATS)[number]['value']>('ndjson')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState<string | null>(null)
  const narrowed = FILTERS.filter((k) => k !== 'from' && k !== 'to' && filter[k])
  const download = async () => {
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      const params = new URLSearchParams({ format })
      if (filter.from) params.set('from', filter.from)
      if (filter.to) params.set('to', filter.to)
      // A plain fetch: the body is a file, not JSON; the token goes in the header as for every call.
      const response = await fetch(`/v1/admin/export?${params}`, { headers: { authorization: `Bearer ${currentSession()?.token ?? ''}` } })
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}))
        throw new Error(problem.detail ?? `export refused (${response.status})`)
      }
      const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `authtrail.${format}`
      const url = URL.createObjectURL(await response.blob())
      const link = document.createElement('a')
      link.href = url
      link.download = name
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
      setDone(`${name} downloaded (audit event ${response.headers.get('x-audit-event-id') ?? 'recorded'})`)
    } catch (failure) {
      setError(failure)
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="card export" aria-labelledby="export-title" data-testid="export">
      <h2 id="export-title">Export</h2>
      <div class="toolbar">
        <label>
          Format
          <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as typeof format)}>
            {FORMATS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={download} disabled={busy}>
          {busy ? 'Exporting…' : 'Export'}
        </button>
      </div>
      <p class="muted">
        Exports every event {filter.from ? `from ${dateTime(filter.from)}` : 'retained'} {filter.to ? `to ${dateTime(filter.to)}` : 'until now'}; the export is recorded in the audit trail.
        {narrowed.length > 0 ? ` The ${narrowed.join(', ')} filter narrows this table only: the export API selects by time.` : ''}
      </p>
      {done ? <p role="status">{done}</p> : null}
      <ErrorNote error={error} />
    </section>
  )
}
