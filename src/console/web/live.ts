import { EventSource } from 'eventsource'
import { createContext } from 'preact'
import { currentSession, type Overview } from './api.ts'

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'closed'

/**
 * Follows the live overview (Server-Sent Events from GET /v1/monitoring/overview/stream). EventSource
 * cannot send a bearer token, so the stream is read through fetch with the in-memory token; reconnection
 * and Last-Event-ID are the library's. Returns a function that closes the stream.
 */
export function followOverview(onOverview: (overview: Overview) => void, onState: (state: LiveState) => void): () => void {
  const source = new EventSource(`${location.origin}/v1/monitoring/overview/stream`, {
    fetch: (input, init) => {
      const session = currentSession()
      return fetch(input, { ...init, headers: { ...init?.headers, ...(session ? { authorization: `Bearer ${session.token}` } : {}) } })
    },
  })
  onState('connecting')
  source.addEventListener('open', () => onState('live'))
  source.addEventListener('error', () => onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'))
  source.addEventListener('overview', (event) => onOverview(JSON.parse(event.data) as Overview))
  // The server ends the stream when the session is revoked or the role changed: do not reconnect.
  source.addEventListener('end', () => {
    source.close()
    onState('closed')
  })
  return () => {
    source.close()
    onState('closed')
  }
}

/** The latest overview and the stream's state, for every view (the overview also carries what the plan allows). */
export const LiveContext = createContext<{ overview: Overview | null; state: LiveState }>({ overview: null, state: 'connecting' })
