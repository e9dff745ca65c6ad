/** A JSON-lines logger to stderr. Callers pass only metadata: never bodies, passwords or tokens. */
export function createLogger(service = 'authtrail'): (entry: Record<string, unknown>) => void {
  return (entry) => {
    console.error(JSON.stringify({ time: new Date().toISOString(), service, ...entry }))
  }
}
