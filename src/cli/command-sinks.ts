import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Env } from '../config/env.ts'
import { createConfiguredSinks } from '../outbox/create-configured-sinks.ts'
import type { EventSink } from '../sinks/event-sink.ts'
import { SERVICE_VERSION } from '../version.ts'

/**
 * Where CEF lines go in development without SYSLOG_URL: the file the service's own relay writes
 * (DATA_DIR/cef.log), so that the relay and re-drive commands deliver where the service does.
 */
export function developmentCefFile(env: Pick<Env, 'AUTHTRAIL_ENV' | 'SYSLOG_URL' | 'DATA_DIR'>): string | null {
  return env.SYSLOG_URL === undefined && env.AUTHTRAIL_ENV === 'development' ? resolve(env.DATA_DIR, 'cef.log') : null
}

/** The sinks a command delivers to: those configured, with the development CEF file for syslog. */
export function commandSinks(env: Env): EventSink[] {
  const cefFile = developmentCefFile(env)
  // The service creates DATA_DIR when it starts; a command may run before it ever has.
  if (cefFile) mkdirSync(dirname(cefFile), { recursive: true })
  return createConfiguredSinks(cefFile ? { ...env, SYSLOG_URL: `file://${cefFile}` } : env, { deviceVersion: SERVICE_VERSION })
}
