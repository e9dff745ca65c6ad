export { createSyslogSink, type SyslogSinkOptions } from './create-syslog-sink.ts'
export { parseSyslogUrl, type SyslogTarget } from './parse-syslog-url.ts'
export type { SyslogTlsFiles } from './stream-transport.ts'
export { SyslogBackpressureError } from './syslog-transport.ts'
