import { describe, expect, it } from 'vitest'
import { truncateCefMessage, truncateToUtf8Bytes } from './datagram-truncation.ts'
import { utf8ByteLength } from './octet-framing.ts'

// Cutting a CEF syslog message to a datagram, on messages written by hand so that every boundary is visible.

const HEADER = '<85>1 - h a - login_failed - CEF:0|v|p|1|login_failed|Login failed|5|'
/** A long last field, so that each message is longer than the datagrams it is cut to. */
const TAIL = ` requestClientApplication=${'u'.repeat(120)}`
const notice = (max: number) => `msg=datagram truncated to ${max} bytes`
/** Bytes left for fields when the datagram is `max` bytes: the notice, its space and a marker (3 bytes) come off. */
const fieldBudget = (max: number) => max - utf8ByteLength(notice(max)) - 1 - 3
/** The datagram size whose field budget is exactly `budget`. */
function maxFor(budget: number): number {
  let max = budget
  while (fieldBudget(max) < budget) max++
  expect(fieldBudget(max)).toBe(budget)
  return max
}

describe('truncateToUtf8Bytes', () => {
  it('returns a message within the budget unchanged, and cuts one over it by a character', () => {
    expect(truncateToUtf8Bytes('abcdef', 6)).toBe('abcdef')
    expect(truncateToUtf8Bytes('abcdef', 5)).toBe('abcde')
    expect(truncateToUtf8Bytes('ab€', 5)).toBe('ab€')
    expect(truncateToUtf8Bytes('ab€', 4)).toBe('ab')
    expect(truncateToUtf8Bytes('', 0)).toBe('')
  })

  it('drops a trailing backslash that began an escape, and keeps an escaped backslash whole', () => {
    expect(truncateToUtf8Bytes('ab\\=cdef', 3)).toBe('ab')
    expect(truncateToUtf8Bytes('ab\\\\cdef', 4)).toBe('ab\\\\')
    expect(truncateToUtf8Bytes('ab\\\\\\=def', 5)).toBe('ab\\\\')
    expect(truncateToUtf8Bytes('abc\\', 3)).toBe('abc')
    // Nothing is cut from a message that fits, so nothing ends half an escape.
    expect(truncateToUtf8Bytes('ab\\', 3)).toBe('ab\\')
  })
})

describe('truncateCefMessage on a hand-written message', () => {
  const message = `${HEADER}rt=1 act=login_failed reason=invalid_credentials duser=alice${TAIL}`
  const start = HEADER.length

  it('leaves a message that fits exactly alone', () => {
    expect(truncateCefMessage(message, utf8ByteLength(message))).toBe(message)
  })

  it('keeps each field that fits whole and says the datagram was cut, one byte short of the next field', () => {
    const through = (key: string) => message.indexOf(` ${key}=`)
    for (const [budget, kept] of [
      [through('act'), `${HEADER}rt=1`],
      [through('reason'), `${HEADER}rt=1 act=login_failed`],
      [through('duser'), `${HEADER}rt=1 act=login_failed reason=invalid_credentials`],
    ] as const) {
      const max = maxFor(budget)
      expect(truncateCefMessage(message, max)).toBe(`${kept} ${notice(max)}`)
    }
  })

  it('cuts the last value that does not fit whole and marks it, counting its bytes', () => {
    const max = maxFor(message.indexOf(' duser=') + ' duser=al'.length)
    expect(truncateCefMessage(message, max)).toBe(`${HEADER}rt=1 act=login_failed reason=invalid_credentials duser=al… ${notice(max)}`)
    const cut = truncateCefMessage(message, max)
    expect(utf8ByteLength(cut)).toBeLessThanOrEqual(max)
    expect(utf8ByteLength(cut)).toBeGreaterThan(max - 3)
  })

  it('never ends in a key with an empty value: a budget that reaches only the = keeps the field before', () => {
    const max = maxFor(message.indexOf(' duser=') + ' duser='.length)
    expect(truncateCefMessage(message, max)).toBe(`${HEADER}rt=1 act=login_failed reason=invalid_credentials ${notice(max)}`)
  })

  it('keeps the header and the notice alone when not even the first value fits', () => {
    const max = maxFor(start + 'rt='.length)
    expect(truncateCefMessage(message, max)).toBe(`${HEADER}${notice(max)}`)
    expect(truncateCefMessage(message, maxFor(start))).toBe(`${HEADER}${notice(maxFor(start))}`)
  })

  it('cuts by bytes alone when the header and the notice do not fit', () => {
    const max = maxFor(start - 1)
    expect(truncateCefMessage(message, max)).toBe(message.slice(0, max))
    expect(truncateCefMessage(message, 20)).toBe(message.slice(0, 20))
  })

  it('drops the spaces a value ended with, which a parser would trim anyway', () => {
    const spaced = `${HEADER}rt=1 reason=a    b duser=alice${TAIL}`
    const max = maxFor(spaced.indexOf(' b duser'))
    expect(truncateCefMessage(spaced, max)).toBe(`${HEADER}rt=1 reason=a… ${notice(max)}`)
  })

  it('never takes an escaped = or an escaped pipe for a boundary', () => {
    const escapedHeader = '<85>1 - h a - t - CEF:0|v\\|x|p\\\\|1|t|T|5|'
    const hostile = `${escapedHeader}rt=1 reason=a\\=b\\\\ x\\=y duser=alice${TAIL}`
    const max = maxFor(hostile.indexOf(' duser='))
    expect(truncateCefMessage(hostile, max)).toBe(`${escapedHeader}rt=1 reason=a\\=b\\\\ x\\=y ${notice(max)}`)
    // A budget that ends inside the escaped value cuts that value, never splitting its escape.
    const inside = maxFor(hostile.indexOf('\\=y') + 1)
    expect(truncateCefMessage(hostile, inside)).toBe(`${escapedHeader}rt=1 reason=a\\=b\\\\ x… ${notice(inside)}`)
  })

  it('counts multi-byte characters in the budget', () => {
    const wide = `${HEADER}rt=1 duser=ééé${TAIL}`
    const max = maxFor(wide.indexOf('ééé') + 2 + 2)
    expect(truncateCefMessage(wide, max)).toBe(`${HEADER}rt=1 duser=éé… ${notice(max)}`)
  })
})

describe('truncateCefMessage: where the CEF part starts', () => {
  it('cuts a CEF record without a syslog header the same way', () => {
    const bare = `CEF:0|v|p|1|t|T|5|rt=1 act=t duser=alice${TAIL}`
    const max = maxFor(bare.indexOf(' duser='))
    expect(truncateCefMessage(bare, max)).toBe(`CEF:0|v|p|1|t|T|5|rt=1 act=t ${notice(max)}`)
  })

  it('cuts a long message without CEF, or with an incomplete CEF header, by bytes alone, whatever pipes and equals signs it holds', () => {
    const plain = `<85>1 - h a - - - a|b|c|d|e|f|g|h=1 ${'x'.repeat(200)}`
    expect(truncateCefMessage(plain, 100)).toBe(plain.slice(0, 100))
    const incomplete = `<85>1 - h a - - - CEF:0|v|p|1|t=1 ${'x'.repeat(200)}`
    expect(truncateCefMessage(incomplete, 100)).toBe(incomplete.slice(0, 100))
  })

  it('keeps the whole header, escaped pipes included, when only the header and the notice fit', () => {
    const escapedHeader = '<85>1 - h a - t - CEF:0|v\\|x|p|1|t|T|5|'
    const message = `${escapedHeader}rt=1${TAIL}`
    const max = maxFor(escapedHeader.length + 'rt='.length)
    expect(truncateCefMessage(message, max)).toBe(`${escapedHeader}${notice(max)}`)
  })

  it('marks a cut inside the last field even when its value holds spaces', () => {
    const message = `${HEADER}rt=1 requestClientApplication=Mozilla/5.0 (X11; Linux) ${'v'.repeat(150)}`
    const max = maxFor(message.indexOf('(X11'))
    expect(truncateCefMessage(message, max)).toBe(`${HEADER}rt=1 requestClientApplication=Mozilla/5.0… ${notice(max)}`)
    // Past the value's last space too.
    const later = maxFor(message.indexOf('vvv') + 10)
    expect(truncateCefMessage(message, later)).toBe(`${HEADER}rt=1 requestClientApplication=Mozilla/5.0 (X11; Linux) ${'v'.repeat(10)}… ${notice(later)}`)
  })
})
