import { bytesToHex } from '@noble/hashes/utils.js'
import { generateEd25519Pem, loadCheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { verifyTenantChain } from '../src/audit/verify-tenant-chain.ts'
import { checkpointsInCefLines, formatCheckpointToken, fromBase64Url, signCheckpoint, type SignedCheckpoint } from '../src/core/checkpoint.ts'
import { loadVerificationTenant } from './support/chained-events.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'

/** One checkpoint per chain every this many events: ten times denser than CHECKPOINT_EVERY_EVENTS's default. */
const CHECKPOINT_EVERY = 1_000

/**
 * Verification with anchors (issue 8): a tenant's chain of `--events` genuinely chained events (16 chains),
 * verified without checkpoints, then with signed checkpoints every 1,000 events of each chain in
 * PostgreSQL and the same checkpoints held by the document store and read from a SIEM's CEF lines: every
 * signature checked, every anchored position compared with the chain.
 */
export const verifyAnchorsBenchmark: Benchmark = {
  name: 'verify-anchors',
  title: 'Chain verification against signed checkpoints and anchors',
  async run(ctx) {
    const events = ctx.events ?? (ctx.quick ? 100_000 : 1_000_000)
    const keys = await loadCheckpointKeys({ signingKeyPem: await generateEd25519Pem(), retiredKeysJwks: null })
    const { db, tenant, droppedIndexes: dropped } = await loadVerificationTenant('verify_anchors', events, ctx.log)
    try {
      const timed = async (label: string, run: () => ReturnType<typeof verifyTenantChain>) => {
        const v0 = performance.now()
        const result = await run()
        const seconds = (performance.now() - v0) / 1000
        if (!result.ok || result.verified_events !== events) throw new Error(`${label}: ok=${result.ok}, ${result.verified_events} of ${events}, first break ${JSON.stringify(result.first_break)}`)
        ctx.log(`  ${label}: ${fmt(events / seconds)} events/s (${seconds.toFixed(1)} s)`)
        return { seconds, rate: events / seconds, result }
      }

      // One untimed verification first, so that both timed runs find pages cached, code compiled and the
      // verification threads' set-up paid (without it the first timed run came out up to 30 % slower).
      await timed('warm-up, chain only (not counted)', () => verifyTenantChain(db.sql, tenant.id, nodeDigester))
      const plain = await timed('chain only', () => verifyTenantChain(db.sql, tenant.id, nodeDigester))

      // Signed checkpoints at every 1,000th position of each chain, as the checkpointer would have stored them.
      const positions = await db.sql<{ shard: number; seq: number; chain_hash: Uint8Array }[]>`
        SELECT shard, seq, chain_hash FROM auth_logs WHERE tenant_id = ${tenant.id} AND seq % ${CHECKPOINT_EVERY} = 0 ORDER BY shard, seq`
      const checkpoints: SignedCheckpoint[] = []
      for (const p of positions) {
        checkpoints.push(await signCheckpoint(keys.signer!, { tenantId: tenant.id, shard: p.shard, seq: p.seq, chainHash: bytesToHex(new Uint8Array(p.chain_hash)), signedAt: new Date().toISOString() }))
      }
      for (const cp of checkpoints) {
        await db.sql`
          INSERT INTO signed_checkpoints (tenant_id, shard, seq, chain_hash, signed_at, key_id, signature, event_id)
          VALUES (${cp.tenantId}, ${cp.shard}, ${cp.seq}, ${Buffer.from(cp.chainHash, 'hex')}, ${cp.signedAt}, ${cp.keyId}, ${Buffer.from(fromBase64Url(cp.signature)!)}, ${crypto.randomUUID()})`
      }
      // What a SIEM received: one CEF line per checkpoint (the event lines around them are not included).
      const siemLines = checkpoints.map((cp) => `<110>1 ${cp.signedAt} authtrail authtrail - - - CEF:0|authtrail|authtrail|1|chain_checkpoint|Chain checkpoint|1|act=chain_checkpoint flexString1=${formatCheckpointToken(cp)}`)

      const anchored = await timed('with checkpoints and both anchors', () =>
        verifyTenantChain(db.sql, tenant.id, nodeDigester, { verifier: keys.verifier, anchors: { docstore: checkpoints, siem: checkpointsInCefLines(siemLines) } }),
      )
      const summary = anchored.result.checkpoints
      if (summary.postgresql !== checkpoints.length || summary.docstore !== checkpoints.length || summary.siem !== checkpoints.length) {
        throw new Error(`checkpoints compared: ${JSON.stringify(summary)}, expected ${checkpoints.length} in each anchor`)
      }

      const tables: Table[] = [
        {
          title: `Verification of ${events.toLocaleString('en-US')} events (one tenant, 16 chains) with ${checkpoints.length.toLocaleString('en-US')} signed checkpoints in each of 3 anchors`,
          columns: ['what', 'events/s', 'seconds'],
          rows: [
            ['with checkpoints: PostgreSQL, document store, SIEM lines (3 × signatures checked)', anchored.rate, anchored.seconds],
            ['  baseline: the chain alone (digests, links, heads)', plain.rate, plain.seconds],
          ],
        },
      ]
      const figures: Figure[] = [
        {
          name: `verification with anchors over ${events.toLocaleString('en-US')} events`,
          value: anchored.rate,
          unit: 'events/s',
          baseline: { name: 'the chain alone, same run', value: plain.rate },
          ratio: anchored.rate / plain.rate,
        },
      ]
      return {
        tables,
        figures,
        notes: [
          `${events.toLocaleString('en-US')} events canonicalised, digested and linked in JS (nodeDigester), loaded with COPY (investigation indexes dropped first: ${dropped.length}); verifyTenantChain reads pages of 5,000 rows per chain and recomputes every digest and link.`,
          `Checkpoints: one per chain every ${CHECKPOINT_EVERY.toLocaleString('en-US')} events (${checkpoints.length.toLocaleString('en-US')} in all), ten times denser than the default CHECKPOINT_EVERY_EVENTS, signed with Ed25519 and inserted into signed_checkpoints; the same list stands for the document store's copies, and CEF lines carrying their tokens for a SIEM file (parsed inside the timed run). Every signature of every anchor is verified, and the chain's hash is compared at every anchored position.`,
          'One untimed verification of the chain alone runs first; then the chain alone and the anchored verification are timed, in that order.',
        ],
        details: { events, checkpoints: checkpoints.length, plain: { seconds: plain.seconds, rate: plain.rate }, anchored: { seconds: anchored.seconds, rate: anchored.rate }, droppedIndexes: dropped },
      }
    } finally {
      await db.drop()
    }
  },
}
