import type { ChainedEvent, OutboxPayload } from '../core/auth-event.ts'
import { CEF_DATAGRAM_TRUNCATED_KEY, CEF_EVENT_NAME, CEF_FIELDS, CEF_SEVERITY, CEF_TRUNCATION_MARKER, type CefDevice } from '../core/cef.ts'
import { createSyslog5424Formatter, SYSLOG_FACILITY_AUTHPRIV, syslogSeverityForCef } from '../core/syslog-5424.ts'
import { EVENT_CATEGORY, EVENT_TYPES, type EventType } from '../core/event-types.ts'

/**
 * The CEF field dictionary for SIEM operators (docs/cef.md), produced from CEF_FIELDS and the event
 * catalog, with one example line per event type formatted by the very code that formats real events.
 * Pure (it only formats); a test compares the committed file with this output.
 */

const EXAMPLE_HEADER = { hostname: 'auth-1.example.com', appName: 'authtrail', procId: '4242' }

const base: ChainedEvent = {
  id: '01937a2c-4b1e-7c3d-9e8f-0a1b2c3d4e5f',
  tenant_id: '0193779a-0c1d-7e2f-8a3b-4c5d6e7f8091',
  organisation_id: '0193779a-0c1d-7e2f-8a3b-4c5d6e7f8092',
  shard: 7,
  seq: 1042,
  event_type: 'login_failed',
  channel: 'web',
  user_id: '0193779a-1111-7e2f-8a3b-4c5d6e7f8093',
  identifier: 'alice@example.com',
  ip: '2001:db8::7',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
  device_id: null,
  occurred_at: '2026-12-01T09:30:00.000Z',
  outcome: 'failure',
  reason: null,
  risk: { score: 0, signals: [] },
  metadata: {},
  token_jti: null,
  actor_id: null,
  expires_at: '2027-12-01T09:30:00.000Z',
  digests: { sha256: '0'.repeat(64), sha512: '0'.repeat(128), sha3_256: '0'.repeat(64) },
  prev_hash: '5f'.repeat(32),
  chain_hash: '3c9a'.repeat(16),
}

const admin = { channel: 'admin', actor_id: '0193779a-2222-7e2f-8a3b-4c5d6e7f8094', identifier: null, user_id: null, ip: '198.51.100.20' } as const

/** One realistic event per type: adding an event type without an example fails to compile. */
const EXAMPLES = {
  login_failed: {
    event: { reason: 'invalid_credentials', ip: '203.0.113.7', identifier: 'alice@example.com', risk: { score: 35, signals: ['failed_streak'] }, metadata: { failed_attempts: 3, locked_until: null, identifier_as_typed: 'Alice@Example.com' } },
  },
  account_locked: {
    event: { reason: 'too_many_failures', risk: { score: 80, signals: ['failed_streak'] }, metadata: { failed_attempts: 5, locked_until: '2026-12-01T09:35:00.000Z', lockout_count: 1, lock_duration_seconds: 300 } },
    lockedUntil: '2026-12-01T09:35:00.000Z',
  },
  login_success: {
    event: { outcome: 'success', channel: 'mobile', device_id: 'a3f1c2d4-mobile', token_jti: '01937a2c-4b1f-7000-8000-000000000001', metadata: { token_expires_at: '2026-12-01T10:30:00.000Z' } },
  },
  lockout_reset: { event: { outcome: 'success', reason: 'login_succeeded', metadata: { previous_failed_attempts: 2, lockout_count: 0 } } },
  registration_succeeded: { event: { outcome: 'success', identifier: 'bob@example.com' } },
  registration_failed: { event: { reason: 'weak_password', identifier: 'bob@example.com', user_id: null, metadata: { password_policy: 'min_length' } } },
  audit_exported: { event: { ...admin, outcome: 'success', metadata: { format: 'cef', from: null, to: '2026-12-01T09:30:00.000Z', organisation_scope: null } } },
  retention_purged: {
    event: { ...admin, channel: 'system', outcome: 'success', reason: 'retention_expired', metadata: { purged_before: '2025-12-01T00:00:00.000Z', purged_events: 1200, shards: [], checkpoints: [], checkpoints_signed: true } },
  },
  dead_letters_redriven: {
    event: { ...admin, outcome: 'success', metadata: { sink: 'syslog', redriven_count: 2, failed_count: 0, redriven_event_ids: [], failed_event_ids: [] } },
  },
  token_refreshed: {
    event: { outcome: 'success', channel: 'mobile', device_id: 'a3f1c2d4-mobile', metadata: { session_id: '01937a2c-5555-7000-8000-000000000002', token_expires_at: '2026-12-01T10:30:00.000Z', session_expires_at: '2026-12-31T09:30:00.000Z' } },
  },
  refresh_reuse_detected: {
    event: { reason: 'refresh_token_reused', ip: '203.0.113.9', risk: { score: 90, signals: [] }, metadata: { session_id: '01937a2c-5555-7000-8000-000000000002', rotated_at: '2026-12-01T09:25:00.000Z' } },
  },
  logout: { event: { outcome: 'success', metadata: { scope: 'session', session_id: '01937a2c-5555-7000-8000-000000000002', sessions_revoked: 1 } } },
  session_revoked: { event: { ...admin, outcome: 'success', reason: 'admin_revoked', identifier: 'alice@example.com', metadata: { sessions_revoked: 3 } } },
  ip_throttled: {
    event: {
      reason: 'spraying',
      ip: '203.0.113.66',
      identifier: 'carol@example.com',
      user_id: null,
      risk: { score: 90, signals: [] },
      metadata: { network: '203.0.113.66/32', throttled_until: '2026-12-01T09:45:00.000Z', failure_budget: 20, window_seconds: 3600, failed_accounts: 12 },
    },
  },
  tenant_created: {
    event: {
      ...admin,
      outcome: 'success',
      metadata: {
        actor_kind: 'operator', slug: 'acme', name: 'Acme', registration_mode: 'invite', allowed_origins: ['https://app.acme.example'], retention_days: 365, can_download: false, chain_shards: 16,
        lockout_max_failures: 5, lockout_window_seconds: 900, lockout_base_seconds: 300, lockout_multiplier: 2, lockout_max_seconds: 86400, organisation_name: 'default',
      },
    },
  },
  tenant_plan_changed: { event: { ...admin, outcome: 'success', metadata: { actor_kind: 'operator', changes: { retention_days: { from: 365, to: 30 } } } } },
  tenant_settings_changed: { event: { ...admin, outcome: 'success', metadata: { actor_kind: 'operator', changes: { registration_mode: { from: 'invite', to: 'open' } } } } },
  tenant_defence_policy_changed: {
    event: {
      ...admin,
      outcome: 'success',
      metadata: {
        actor_kind: 'admin',
        from: { ip_failure_budget: 100, ip_window_seconds: 3600, spray_accounts: 10, spray_failure_budget: 20, allow_list: [], lockout_mode: 'account', known_address_days: 90 },
        to: { ip_failure_budget: 100, ip_window_seconds: 3600, spray_accounts: 10, spray_failure_budget: 20, allow_list: ['198.51.100.0/24'], lockout_mode: 'account_ip', known_address_days: 90 },
      },
    },
  },
  organisation_created: { event: { ...admin, outcome: 'success', metadata: { actor_kind: 'admin', name: 'Branch office' } } },
  user_invited: {
    event: { ...admin, outcome: 'success', identifier: 'carol@example.com', metadata: { actor_kind: 'admin', invitation_id: '01937a2c-6666-7000-8000-000000000001', role: 'auditor', expires_at: '2026-12-08T09:30:00.000Z' } },
  },
  user_role_changed: {
    event: { ...admin, outcome: 'success', identifier: 'bob@example.com', user_id: '0193779a-3333-7e2f-8a3b-4c5d6e7f8095', metadata: { actor_kind: 'admin', from: 'user', to: 'auditor' } },
  },
  user_disabled: { event: { ...admin, outcome: 'success', identifier: 'bob@example.com', user_id: '0193779a-3333-7e2f-8a3b-4c5d6e7f8095', metadata: { actor_kind: 'admin' } } },
  user_enabled: { event: { ...admin, outcome: 'success', identifier: 'bob@example.com', user_id: '0193779a-3333-7e2f-8a3b-4c5d6e7f8095', metadata: { actor_kind: 'admin' } } },
  operator_created: {
    event: { ...admin, channel: 'system', actor_id: null, ip: null, outcome: 'success', metadata: { actor_kind: 'service', operator_id: '01937a2c-7777-7000-8000-000000000001', operator_name: 'ops' } },
  },
  chain_checkpoint: {
    event: {
      channel: 'system',
      outcome: 'success',
      identifier: null,
      user_id: null,
      organisation_id: null,
      ip: null,
      user_agent: null,
      seq: 1043,
      metadata: {
        checkpoint_seq: 1042,
        chain_hash: '3c9a'.repeat(16),
        signed_at: '2026-12-01T09:30:00.000Z',
        key_id: 'GuqitZ2mFcJ4SVtquSQVALKqZE4dl29oqPAcPSXsmzY',
        signature: 'u4JXkZ0oS2xQ7l5D8rT1nC6vB3yE9aF0hG2iK4mN6pQ8sU0wY2zA4cE6gI8kM0oQ2sU4wY6aC8eG0iK2mO4qSg',
      },
    },
  },
} satisfies Record<EventType, { event: Partial<ChainedEvent>; lockedUntil?: string }>

/** The example payload of an event type, as the outbox would carry it. */
export function exampleCefPayload(type: EventType): OutboxPayload {
  const example: { event: Partial<ChainedEvent>; lockedUntil?: string } = EXAMPLES[type]
  const event = { ...base, event_type: type, ...example.event } as ChainedEvent
  const lockout = example.lockedUntil
    ? {
        tenant_id: event.tenant_id,
        identifier: event.identifier ?? '',
        user_id: event.user_id,
        failed_login_attempts: 5,
        account_locked_until: example.lockedUntil,
        last_failed_at: event.occurred_at,
        lockout_count: 1,
        shard: event.shard,
        seq: event.seq,
      }
    : null
  return { event, lockout }
}

/** The example syslog line of an event type. */
export function exampleSyslogLine(type: EventType, device: CefDevice): string {
  return createSyslog5424Formatter(device, EXAMPLE_HEADER)(exampleCefPayload(type))
}

const cell = (text: string) => text.replace(/\|/g, '\\|')

/** Keys (without labels) present in a formatted line's extension. */
function keysOf(line: string): string[] {
  const extension = line.slice(line.indexOf('CEF:'))
  return [...extension.matchAll(/(?:\||(?<!\\) )([A-Za-z0-9]+)=/g)].map((m) => m[1]!).filter((k) => !k.endsWith('Label'))
}

/**
 * Renders docs/cef.md.
 *
 * @example
 * await writeFile('docs/cef.md', renderCefDictionary({ deviceVendor: 'authtrail', deviceProduct: 'authtrail', deviceVersion: '0.1.0' }))
 */
export function renderCefDictionary(device: CefDevice): string {
  const out: string[] = []
  const p = (...lines: string[]) => out.push(...lines)
  p(
    '# CEF field dictionary for SIEM operators',
    '',
    '<!-- Generated by `npm run docs:cef` from the CEF mapping and the event catalog; a test fails when this file is stale. -->',
    '',
    'Every audit event leaves authtrail as one RFC 5424 syslog message whose MSG is an ArcSight CEF v0 record, over',
    'the transport `SYSLOG_URL` names (RELP, TCP, TLS, UDP or a file). A redelivered event is byte-identical to',
    'its first delivery: the same `externalId` identifies duplicates (delivery is at least once).',
    '',
    '## Syslog header',
    '',
    '| field | value |',
    '|---|---|',
    `| PRI | facility authpriv (${SYSLOG_FACILITY_AUTHPRIV}) × 8 + the syslog severity derived from the CEF severity: 9–10 critical (2), 7–8 warning (4), 4–6 notice (5), 0–3 informational (6) |`,
    '| VERSION | `1` |',
    '| TIMESTAMP | the event\'s `occurred_at` (UTC, milliseconds), not the send time |',
    '| HOSTNAME | `SYSLOG_HOSTNAME`, else the machine\'s host name (under Docker the container id: set it) |',
    '| APP-NAME | `SYSLOG_APP_NAME`, default `authtrail` |',
    '| PROCID | the process id of the relay |',
    '| MSGID | the event type |',
    '| STRUCTURED-DATA | `-` (none) |',
    '| MSG | the CEF record, without a byte-order mark |',
    '',
    'Over TCP and TLS each message is framed by octet counting (RFC 6587 §3.4.1, RFC 5425), the count in bytes;',
    'over RELP each is one `syslog` transaction; over UDP one message per datagram (RFC 5426). A message never',
    'contains CR or LF.',
    '',
    '## CEF header',
    '',
    '`CEF:0|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension`',
    '',
    '| field | value |',
    '|---|---|',
    `| Device Vendor, Device Product | \`${cell(device.deviceVendor)}\`, \`${cell(device.deviceProduct)}\` |`,
    '| Device Version | the service version |',
    '| Device Event Class ID | the event type (below) |',
    '| Name | the event type\'s name (below) |',
    '| Severity | 0–10, per event type (below) |',
    '',
    '## Encoding rules',
    '',
    '- Header fields escape `\\` and `|`; extension values escape `\\`, `=`, and write CR and LF as `\\r` and `\\n`.',
    '  A pipe in an extension value is literal, as the CEF specification requires.',
    '- Other control characters (TAB, ESC, BEL, DEL…) have no CEF escape and receivers rewrite them (rsyslog',
    '  turns ESC into `#033`). They are sent as their Unicode Control Pictures (U+2400–U+241F; DEL as U+2421), so',
    '  ESC arrives as `␛` and TAB as `␉`. The stored event keeps the original characters.',
    `- A value longer than its key's limit (in characters, counted as code points) is cut and ends in \`${CEF_TRUNCATION_MARKER}\`,`,
    '  which counts towards the limit; a cut never splits a character or an escape.',
    '- Absent, empty and blank (whitespace-only) values are left out together with their label: strict parsers',
    '  reject an empty value, and a blank one says nothing.',
    `- A message too long for a UDP datagram (\`maxDatagramBytes\`, default 2048) keeps its first fields whole, the`,
    `  last one cut with \`${CEF_TRUNCATION_MARKER}\`, and ends with \`${CEF_DATAGRAM_TRUNCATED_KEY}=datagram truncated to N bytes\`.`,
    '  The keys are written in the order below, short and essential ones first, so a cut loses the free text.',
    '- Addresses: IPv4 as dotted quad; IPv6 in RFC 5952 form (lower case, `::` for the longest run of zero groups);',
    '  an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 client it is.',
    '- Times (`rt`, `flexDate1`) are milliseconds since the epoch.',
    '',
    '## Extension keys',
    '',
    'In the order they are written. Custom keys carry their label in `<key>Label` just before them.',
    '',
    '| key | label | ArcSight name | type | limit | meaning | present in |',
    '|---|---|---|---|---|---|---|',
  )
  const presentIn = new Map<string, EventType[]>()
  for (const type of EVENT_TYPES) {
    for (const key of keysOf(exampleSyslogLine(type, device))) presentIn.set(key, [...(presentIn.get(key) ?? []), type])
  }
  for (const f of CEF_FIELDS) {
    const types = presentIn.get(f.key) ?? []
    const where = types.length === EVENT_TYPES.length ? 'every type' : types.length === 0 ? 'when present' : types.map((t) => `\`${t}\``).join(', ')
    p(`| \`${f.key}\` | ${f.label === undefined ? '' : `\`${cell(f.label)}\``} | ${f.fullName} | ${f.type} | ${f.limit ?? ''} | ${cell(f.meaning)} | ${where} |`)
  }
  p(
    `| \`${CEF_DATAGRAM_TRUNCATED_KEY}\` | | message | String | 1023 | \`datagram truncated to N bytes\`, only on a UDP message that was cut | when cut |`,
    '',
    '"Present in" is what the examples below carry; a key whose value an event lacks (no user agent, no',
    'organisation) is left out of that event.',
    '',
    '## Event types',
    '',
    '| Device Event Class ID | Name | category (`cat`) | CEF severity | syslog PRI |',
    '|---|---|---|---|---|',
  )
  for (const type of EVENT_TYPES) {
    const pri = SYSLOG_FACILITY_AUTHPRIV * 8 + syslogSeverityForCef(CEF_SEVERITY[type])
    p(`| \`${type}\` | ${CEF_EVENT_NAME[type]} | ${EVENT_CATEGORY[type]} | ${CEF_SEVERITY[type]} | ${pri} |`)
  }
  p('', '## One example line per event type', '')
  for (const type of EVENT_TYPES) {
    p(`### ${type}`, '', '```', exampleSyslogLine(type, device), '```', '')
  }
  p(...INGESTION)
  return `${out.join('\n')}\n`
}

const INGESTION = [
  '## Receiving and parsing',
  '',
  '### Which transport',
  '',
  'RELP (`relp://`, or `relp+tls://` with mutual TLS) is the one to use for an audit trail: every message is',
  'acknowledged by the receiver and counted delivered only then; whatever was not acknowledged when a',
  'connection died is sent again. TCP and TLS have no acknowledgement, so bytes the receiver read and then',
  'dropped (a graceful stop, a crash) go unnoticed; UDP loses everything sent while the receiver is down.',
  'See the README for the losses measured per transport and fault.',
  '',
  '### rsyslog (imrelp)',
  '',
  'rsyslog acknowledges a RELP message once its ruleset queue has taken it. To lose nothing across a crash',
  'of rsyslog itself, give the ruleset a direct queue (the action runs before the acknowledgement) or a',
  'disk-assisted queue, and write with `asyncWriting="off"`:',
  '',
  '```',
  'module(load="imrelp")',
  'ruleset(name="authtrail" queue.type="direct") {',
  '  action(type="omfile" file="/var/log/authtrail/cef.log" template="RSYSLOG_SyslogProtocol23Format"',
  '         asyncWriting="off" flushOnTXEnd="on")',
  '}',
  'input(type="imrelp" port="2514" ruleset="authtrail" maxDataSize="64k"',
  '      tls="on" tls.tlslib="openssl" tls.caCert="/etc/rsyslog/ca.pem" tls.myCert="/etc/rsyslog/server.pem"',
  '      tls.myPrivKey="/etc/rsyslog/server.key" tls.authMode="name" tls.permittedPeer=["authtrail-relay"])',
  '```',
  '',
  'Keep `parser.escapeControlCharactersOnReceive` at its default: authtrail sends no control characters.',
  'To parse the CEF record into fields, liblognorm\'s `cef` parser reads it (`rule=:%cef:cef%`), through',
  '`mmnormalize`; authtrail\'s tests check every line with it.',
  '',
  '### syslog-ng',
  '',
  'syslog-ng (open source edition) has no RELP input: receive with rsyslog and forward, or use TLS',
  '(`network(transport("tls") flags(syslog-protocol))`, octet-counted) and accept its weaker guarantee. Its',
  '`cef-parser()` (from the SCL) splits the record; point it at `${MESSAGE}`.',
  '',
  '### Splunk',
  '',
  'Splunk has no RELP input. Let rsyslog receive over RELP and write a file the Universal Forwarder monitors,',
  'or point a TCP/TLS data input at authtrail (weaker). Extract fields with a CEF add-on or with',
  '`key=value` extraction that honours `\\=`; use `externalId` to remove duplicates (`dedup externalId`).',
  '',
  '### Elastic',
  '',
  'Filebeat\'s `cef` module (or the `decode_cef` processor) reads these records; it maps `duser` to',
  '`destination.user.name`, `src` to `source.ip`, `externalId` to `event.id`. Filebeat has no RELP input:',
  'let rsyslog receive over RELP and write a file Filebeat reads, or use its syslog TCP/TLS input.',
  '',
  '### ArcSight',
  '',
  'A SmartConnector of type Syslog Daemon (TCP or UDP) or Syslog File reads CEF natively; the custom keys',
  'arrive with their labels. ArcSight\'s authentication convention is followed: the target account is',
  '`duser`/`duid`, the acting administrator `suid`, the client `src`. For RELP, receive with rsyslog and let',
  'the connector read its file.',
  '',
]
