import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * An independent CEF parser for tests: Debian's `lognormalizer` (package liblognorm-utils), which
 * decodes CEF escapes correctly and rejects wrong ones. npm has no CEF parser that does both.
 */

/** A CEF message as lognormalizer decoded it. */
export interface ParsedCef {
  header: {
    deviceVendor: string
    deviceProduct: string
    deviceVersion: string
    signatureId: string
    name: string
    severity: string
  }
  extensions: Record<string, string>
}

interface LognormOutput {
  cef?: {
    DeviceVendor: string
    DeviceProduct: string
    DeviceVersion: string
    SignatureID: string
    Name: string
    Severity: string
    Extensions: Record<string, string>
  }
  originalmsg?: string
  'unparsed-data'?: string
}

/** The CEF part of a line: everything from `CEF:` on (a syslog header before it is dropped). */
export function cefPart(line: string): string {
  const at = line.indexOf('CEF:')
  if (at < 0) throw new Error(`no CEF message in: ${line}`)
  return line.slice(at)
}

/**
 * liblognorm 2.0.6 drops the first character of the first extension key. A space after the seventh
 * unescaped pipe (the end of the header) is skipped by the parser as separator whitespace, which
 * leaves the key whole.
 */
function workAroundFirstKeyBug(cef: string): string {
  let pipes = 0
  for (let i = 0; i < cef.length; i++) {
    const c = cef[i]
    if (c === '\\') i++
    else if (c === '|' && ++pipes === 7) return `${cef.slice(0, i + 1)} ${cef.slice(i + 1)}`
  }
  throw new Error(`CEF header has fewer than 7 unescaped pipes: ${cef}`)
}

/**
 * Parses CEF lines (or syslog lines carrying CEF) with `lognormalizer -r cef.rb -e json`, in one
 * process for all lines. Rejects if lognormalizer refuses any line, naming it.
 *
 * @example
 * const [parsed] = await parseCefWithLognormalizer([line])
 * parsed.extensions.duser // 'alice@example.com'
 */
export async function parseCefWithLognormalizer(lines: readonly string[]): Promise<ParsedCef[]> {
  if (lines.length === 0) return []
  const input = lines.map((line) => {
    if (/[\r\n]/.test(line)) throw new Error('a CEF line must not contain CR or LF')
    return workAroundFirstKeyBug(cefPart(line))
  })
  // A rule file per call, removed afterwards: test workers may never run an exit hook.
  const dir = mkdtempSync(join(tmpdir(), 'authtrail-lognorm-'))
  let stdout: string
  try {
    writeFileSync(join(dir, 'cef.rb'), 'version=2\nrule=:%cef:cef%\n')
    stdout = await runLognormalizer(join(dir, 'cef.rb'), `${input.join('\n')}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const outputs = stdout.split('\n').filter((l) => l.trim() !== '')
  if (outputs.length !== lines.length) {
    throw new Error(`lognormalizer returned ${outputs.length} results for ${lines.length} lines`)
  }
  return outputs.map((json, i) => {
    const out = JSON.parse(json) as LognormOutput
    if (!out.cef) throw new Error(`lognormalizer refused line ${i}: ${json}`)
    const c = out.cef
    return {
      header: {
        deviceVendor: c.DeviceVendor,
        deviceProduct: c.DeviceProduct,
        deviceVersion: c.DeviceVersion,
        signatureId: c.SignatureID,
        name: c.Name,
        severity: c.Severity,
      },
      extensions: c.Extensions,
    }
  })
}

function runLognormalizer(rulebase: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('lognormalizer', ['-r', rulebase, '-e', 'json'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve(stdout)
      else reject(new Error(`lognormalizer exited with ${code}: ${stderr}`))
    })
    child.stdin.end(input, 'utf8')
  })
}
