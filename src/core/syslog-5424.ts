import type { OutboxPayload } from './auth-event.ts'
import { cefSeverity, epochMs, formatCef, type CefDevice } from './cef.ts'

// RFC 5424 syslog messages carrying an event's CEF form. Pure.

/** Syslog facility authpriv (RFC 5424 table 1): security messages meant for restricted logs. */
export const SYSLOG_FACILITY_AUTHPRIV = 10

/**
 * Maps CEF severity to a syslog severity: very high (9–10) is critical (2), high (7–8) warning (4),
 * medium (4–6) notice (5), low (0–3) informational (6). No audit event is a system error, so err (3)
 * and the emergency levels stay unused.
 */
export function syslogSeverityForCef(cefSeverityValue: number): number {
  if (cefSeverityValue >= 9) return 2
  if (cefSeverityValue >= 7) return 4
  if (cefSeverityValue >= 4) return 5
  return 6
}

/** The RFC 5424 header fields the sender chooses. */
export interface SyslogHeader {
  hostname: string
  appName: string
  /** Defaults to the NILVALUE `-`. */
  procId?: string
}

/** RFC 5424 header fields are PRINTUSASCII (33–126) with a maximum length; `-` stands for empty. */
function headerToken(value: string | undefined, maxLength: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, maxLength)
  return clean === '' ? '-' : clean
}

/**
 * Formats an event as an RFC 5424 syslog message carrying its CEF form:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - CEF:0|...`. Facility authpriv, severity from the
 * CEF severity, TIMESTAMP the event's `occurred_at` (so a redelivery is byte-identical), MSGID the event
 * type, no structured data. The MSG carries no UTF-8 BOM: SIEM CEF parsers expect `CEF:` at its start.
 * The result never contains CR or LF, so it is also one line of a log file.
 *
 * @example
 * formatSyslog5424(payload, device, { hostname: 'auth-1', appName: 'authtrail' })
 * // '<85>1 2026-11-23T10:00:00.000Z auth-1 authtrail - login_failed - CEF:0|authtrail|...'
 */
export function formatSyslog5424(payload: OutboxPayload, device: CefDevice, header: SyslogHeader): string {
  return createSyslog5424Formatter(device, header)(payload)
}

/**
 * `formatSyslog5424` with the header fields sanitised once, for formatting many events (a sink).
 *
 * @example
 * const format = createSyslog5424Formatter(device, { hostname: 'auth-1', appName: 'authtrail' })
 * const lines = batch.map(format)
 */
export function createSyslog5424Formatter(device: CefDevice, header: SyslogHeader): (payload: OutboxPayload) => string {
  const hostname = headerToken(header.hostname, 255)
  const origin = `${hostname} ${headerToken(header.appName, 48)} ${headerToken(header.procId, 128)}`
  // dvchost names the same host as the syslog HOSTNAME, unless the caller says otherwise.
  const cefDevice = device.deviceHost === undefined && hostname !== '-' ? { ...device, deviceHost: hostname } : device
  return (payload) => {
    const e = payload.event
    const pri = SYSLOG_FACILITY_AUTHPRIV * 8 + syslogSeverityForCef(cefSeverity(e.event_type))
    const ms = epochMs(e.occurred_at)
    const timestamp = ms === null ? '-' : new Date(ms).toISOString()
    return `<${pri}>1 ${timestamp} ${origin} ${headerToken(e.event_type, 32)} - ${formatCef(payload, cefDevice)}`
  }
}
