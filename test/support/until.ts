/**
 * Waits until `condition` holds, polling every `intervalMs`, and fails naming `what` after `timeoutMs`:
 * tests wait on conditions with generous deadlines, never on fixed sleeps.
 */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what = 'a condition', intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
