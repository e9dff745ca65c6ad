import { createPrivateKey, sign as nodeSign } from 'node:crypto'
import { checkpointDueChains, type CheckpointDeps } from '../src/audit/checkpoint-chain-heads.ts'
import { generateEd25519Pem, loadCheckpointKeys } from '../src/audit/checkpoint-keys.ts'
import { nodeDigester } from '../src/audit/node-digester.ts'
import { checkpointSignatureProblem, checkpointSigningInput, signCheckpoint, type SignedCheckpoint } from '../src/core/checkpoint.ts'
import { createOrganisation, createTenant } from '../src/db/tenants.ts'
import { createBenchDatabase } from './support/bench-database.ts'
import { loadChainedEvents } from './support/chained-events.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { percentile } from './support/stats.ts'

const SHARDS = 16

/**
 * Checkpoint signing cost: (a) Ed25519 signatures of checkpoint statements through the signer interface,
 * and their verification, against node:crypto signing the same bytes directly; (b) one round of the
 * checkpointer (checkpointDueChains) over chains that are all due, on PostgreSQL: each checkpoint is
 * read, signed, appended to its chain as a chain_checkpoint event with its outbox row, and stored in
 * signed_checkpoints, one transaction per chain.
 */
export const checkpointsBenchmark: Benchmark = {
  name: 'checkpoints',
  title: 'Checkpoint signing cost',
  async run(ctx) {
    const signatures = ctx.quick ? 500 : 5_000
    const tenantsPerRound = ctx.quick ? 2 : 8
    const rounds = ctx.quick ? 2 : 5
    const pem = await generateEd25519Pem()
    const keys = await loadCheckpointKeys({ signingKeyPem: pem, retiredKeysJwks: null })
    const signer = keys.signer!
    const tables: Table[] = []
    const figures: Figure[] = []

    // (a) Signatures alone.
    const statement = (i: number) => ({ tenantId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', shard: i % SHARDS, seq: 10_000 + i, chainHash: (i % 16).toString(16).repeat(64), signedAt: new Date(1_700_000_000_000 + i).toISOString() })
    for (let i = 0; i < 200; i++) await signCheckpoint(signer, statement(i)) // warm-up
    const s0 = performance.now()
    const signed: SignedCheckpoint[] = []
    for (let i = 0; i < signatures; i++) signed.push(await signCheckpoint(signer, statement(i)))
    const signRate = signatures / ((performance.now() - s0) / 1000)
    const v0 = performance.now()
    for (const cp of signed) if ((await checkpointSignatureProblem(keys.verifier, cp)) !== null) throw new Error('a checkpoint signed here does not verify')
    const verifyRate = signatures / ((performance.now() - v0) / 1000)
    const inputs = signed.map((cp) => checkpointSigningInput(cp))
    const privateKey = createPrivateKey(pem.replace(/\\n/g, '\n'))
    const b0 = performance.now()
    for (const input of inputs) nodeSign(null, input, privateKey)
    const bareRate = signatures / ((performance.now() - b0) / 1000)
    ctx.log(`  ${fmt(signRate)} signatures/s, ${fmt(verifyRate)} verifications/s (node:crypto alone: ${fmt(bareRate)} signatures/s)`)

    // (b) Rounds of the checkpointer, each over fresh chains that are all due.
    const db = await createBenchDatabase('checkpoints')
    const roundMs: number[] = []
    try {
      const deps: CheckpointDeps = { sql: db.sql, signer, clock: () => new Date(), policy: { intervalMs: 60_000, everyEvents: 1 } }
      for (let round = 0; round < rounds; round++) {
        for (let t = 0; t < tenantsPerRound; t++) {
          const tenant = await createTenant(db.sql, { slug: `cp-${round}-${t}`, chainShards: SHARDS })
          const org = await createOrganisation(db.sql, tenant.id, `cp-${round}-${t}-org`)
          await loadChainedEvents(db.sql, tenant, org.id, SHARDS * 50, nodeDigester)
        }
        const r0 = performance.now()
        const made = await checkpointDueChains(deps)
        roundMs.push(performance.now() - r0)
        if (made.length !== tenantsPerRound * SHARDS) throw new Error(`round ${round}: ${made.length} checkpoints for ${tenantsPerRound * SHARDS} due chains`)
      }
    } finally {
      await db.drop()
    }
    const perRound = tenantsPerRound * SHARDS
    const msPerCheckpoint = roundMs.map((ms) => ms / perRound)
    const medianRound = percentile([...roundMs].sort((a, b) => a - b), 50)
    ctx.log(`  a round of ${perRound} checkpoints: median ${fmt(medianRound)} ms (${fmt(medianRound / perRound)} ms per checkpoint)`)

    tables.push({
      title: `Checkpoint signatures (Ed25519, ${signatures.toLocaleString('en-US')} statements)`,
      columns: ['what', 'per second', 'µs each'],
      rows: [
        ['signCheckpoint (canonical statement + WebCrypto Ed25519 through the signer)', signRate, 1e6 / signRate],
        ['checkpointSignatureProblem (verification)', verifyRate, 1e6 / verifyRate],
        ['  baseline: node:crypto sign of the same bytes', bareRate, 1e6 / bareRate],
      ],
    })
    tables.push({
      title: `The checkpointer: ${rounds} rounds of ${perRound} due chains (${tenantsPerRound} tenants × ${SHARDS} shards)`,
      columns: ['round', 'ms', 'ms per checkpoint'],
      rows: roundMs.map((ms, i) => [String(i + 1), ms, msPerCheckpoint[i]!]),
    })
    figures.push({
      name: 'checkpoint signatures',
      value: signRate,
      unit: 'signatures/s',
      baseline: { name: 'node:crypto signing the same bytes', value: bareRate },
      ratio: signRate / bareRate,
    })
    figures.push({ name: `checkpointer round over ${perRound} due chains (median)`, value: medianRound, unit: 'ms', baseline: { name: 'ms per checkpoint', value: medianRound / perRound } })
    return {
      tables,
      figures,
      notes: [
        'Signatures: signCheckpoint builds the canonical statement (RFC 8785 JSON, key id included) and signs it with WebCrypto Ed25519; verification looks the key up by id and verifies. The baseline signs the same bytes with node:crypto directly, with a KeyObject made once.',
        `Rounds: each round creates ${tenantsPerRound} tenants of ${SHARDS} chains with 50 events each (loaded with COPY, not timed), then times one checkpointDueChains call, which signs every due chain's head in its own transaction (advisory lock, head read, signature, chain_checkpoint event appended through append_auth_events() with its outbox row, signed_checkpoints row).`,
        'The checkpointer runs off the login path (every min(5 s, CHECKPOINT_INTERVAL_SECONDS)); its cost to logins is the row lock its append takes on each chain head, as one more event.',
      ],
      details: { signatures, signRate, verifyRate, bareRate, roundMs, perRound },
    }
  },
}
