import { attemptLogin } from '../src/auth/attempt-login.ts'
import type { Sql } from '../src/db/client.ts'
import { changeDefencePolicyAudited } from '../src/admin/administer-tenants.ts'
import { SYSTEM_ACTOR } from '../src/admin/admin-actor.ts'
import { findTenantById } from '../src/db/tenants.ts'
import { checkpoint, createBenchDatabase } from './support/bench-database.ts'
import { ACCOUNT_BASE, CAMPAIGN_ORIGIN, campaignDeps, campaignInput, seedCampaign, vacuumHotTables, type Campaign } from './support/campaign.ts'
import type { LoginLoopSpec } from './support/login-loop-process.ts'
import { pooled, runConcurrentRounds, spread, type ConcurrentVariant, type Slice } from './support/concurrent-rounds.ts'
import { fmt, type Benchmark, type Figure, type Table } from './support/report.ts'
import { analyzeGrownTables, seedTrailHistory } from './support/trail-history.ts'

/** Per variant; two variants run at once. */
const CLIENTS = 8
/** Rounds run before those measured: the client processes' code is still being compiled in the first ones. */
const WARMUP_ROUNDS = 3

/**
 * What a service in use has and a fresh database lacks, besides a trail with history (seedTrailHistory):
 * addresses that failed before (another range, their budgets refilled, two failed accounts each). Without
 * them the snapshot's read of ip_throttles is planned on a near-empty table (this machine's PostgreSQL
 * runs without autovacuum) and the plan kept while the run fills it.
 */
const HISTORY_EVENTS = 200_000
const HISTORY_NETWORKS = 50_000

async function seedHistory(sql: Sql, campaign: Campaign): Promise<void> {
  const account = (k: number) => sql`(${ACCOUNT_BASE}::int + (g * 7919 + ${k}::int) % ${campaign.accounts}::int)::text`
  await sql`
    INSERT INTO ip_throttles (tenant_id, network, budget_full_at, spray_budget_full_at, episode_count, failed_accounts, updated_at)
    SELECT ${campaign.tenant.id}, '10.' || (g / 65536) || '.' || (g / 256 % 256) || '.' || (g % 256) || '/32',
           now() - interval '10 minutes', now() - interval '10 minutes', 0,
           jsonb_build_object(${account(0)}, now() - interval '20 minutes', ${account(1)}, now() - interval '20 minutes'),
           now() - interval '10 minutes'
    FROM generate_series(1, ${HISTORY_NETWORKS}::int) AS g`
  await seedTrailHistory(sql, HISTORY_EVENTS)
}

/**
 * The per-address throttle's cost and what it saves, with the benchmark-only hasher (no argon2: what is
 * measured is the pipeline around it), 16 clients, wrong passwords over 100,000 accounts:
 * - allow-listed: the login as it is without the throttle, the baseline: the audit transaction, from
 *   10,000 addresses of an allow-listed /16 at random;
 * - throttle checked: the same from 10,000 addresses of another /16, not allow-listed, with budgets to
 *   spare, so that each attempt reads and writes its address's throttle state and nothing else differs.
 *   Both spread their addresses alike: the trail's index by address (auth_logs_tenant_ip_time_idx) costs
 *   more when its entries land on many pages than when they all go to one, which a baseline from one
 *   address would have counted as the check's cost;
 * - throttled: one address spraying, refused once its spraying budget is spent (the default policy's 20
 *   failures over 20 accounts, which its row then notes), every attempt answered 429 (recorded, not checked);
 * - locked account: accounts locked, every attempt answered 423 (recorded, not checked): the cheapest
 *   answer the service had for an attack before;
 * - the baseline against itself, first: two identical processes differ by what the bench cannot resolve
 *   (about 1–2 %, pooled, on a quiet machine), which bounds how far the check's figure can be trusted.
 * The two variants of each pair run at the same time (support/concurrent-rounds.ts), each in a process of
 * its own with a pool of its own, over several rounds, so that both meet the same load; the cost is CPU
 * per attempt, the variant's process and its connections' PostgreSQL backends, pooled over the rounds,
 * with the spread of the rounds' own ratios.
 */
export const ipThrottleBenchmark: Benchmark = {
  name: 'ip-throttle',
  title: 'Per-address throttle: its cost per login attempt, and throttled against locked-account attempts',
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 10
    const ms = ctx.quick ? 2_000 : 5_000
    const warmupMs = ctx.quick ? 300 : 500
    const db = await createBenchDatabase('ip_throttle')
    try {
      const campaign = await seedCampaign(db.sql, {
        slug: 'throttle',
        chainShards: 16,
        accounts: 100_000,
        // The campaign's address for the locked accounts, and 198.18.0.0/16 for the baseline.
        defencePolicy: { ip_failure_budget: 100_000, spray_accounts: 10_000, spray_failure_budget: 100_000, allow_list: [`${CAMPAIGN_ORIGIN.ip}/32`, '198.18.0.0/16'] },
      })
      await seedHistory(db.sql, campaign)
      const variant = (name: string, from: LoginLoopSpec['from'], expected: string): ConcurrentVariant => ({
        name,
        spec: { url: db.url, tenantId: campaign.tenant.id, accounts: campaign.accounts, clients: CLIENTS, from, expected },
      })
      const together = (variants: ConcurrentVariant[]) =>
        runConcurrentRounds({
          admin: db.sql,
          variants,
          // Unmeasured rounds first (every connection's statements prepared and planned, the processes'
          // code compiled), then ANALYZE and one CHECKPOINT: checkpoints minutes apart, as a server's are,
          // not one per round, which would have every round pay the first write of every page it touches.
          rounds: rounds + WARMUP_ROUNDS,
          ms,
          warmupMs,
          beforeRound: async (round) => {
            if (round !== WARMUP_ROUNDS) return
            await vacuumHotTables(db.sql)
            await analyzeGrownTables(db.sql)
            await checkpoint(db.sql)
          },
          log: ctx.log,
        }).then((byRound) => byRound.slice(WARMUP_ROUNDS))

      // The instrument first: the same variant twice, at the same time. What two identical processes differ by
      // is what a difference between the two below can be trusted to.
      const baseline = variant('allow-listed (no throttle)', { kind: 'spread', range: '198.18' }, 'invalid_credentials')
      ctx.log('  allow-listed twice, at the same time:')
      const same = await together([baseline, { ...baseline, name: 'allow-listed, again' }])

      ctx.log('  allow-listed and throttle checked, at the same time:')
      const checks = await together([baseline, variant('throttle checked', { kind: 'spread', range: '198.19' }, 'invalid_credentials')])

      // One address spraying, refused once its spraying budget is spent, as the default policy refuses it: 20
      // failures over 20 accounts (outside the campaign's, so none is locked already), so that its row notes
      // 20 failed accounts, which every refusal reads (a budget of 1 would leave one). The window is a day
      // rather than the default hour so that no failure refills during the pair (one every 72 minutes instead
      // of 3). And every account locked (the lock far in the future), attempted from the allow-listed
      // address. Throttled attempts touch no lockout.
      const attacker = '203.0.113.66'
      const spraying = { ip_failure_budget: 100, spray_accounts: 10, spray_failure_budget: 20, ip_window_seconds: 86_400 }
      await changeDefencePolicyAudited({ sql: db.sql, clock: () => new Date() }, { tenantId: campaign.tenant.id, change: spraying, actor: SYSTEM_ACTOR })
      const sprayer = (await findTenantById(db.sql, campaign.tenant.id))!
      const sprayed = []
      for (let account = 0; account <= spraying.spray_failure_budget; account++) {
        sprayed.push((await attemptLogin(campaignDeps(db.sql), { ...campaignInput(campaign, campaign.accounts + account), tenant: sprayer, origin: { ...CAMPAIGN_ORIGIN, ip: attacker } })).kind)
      }
      const expectedSpray = [...Array<string>(spraying.spray_failure_budget).fill('invalid_credentials'), 'throttled']
      if (sprayed.join() !== expectedSpray.join()) throw new Error(`the sprayer was answered ${sprayed.join()}, not ${expectedSpray.join()}`)
      await db.sql`UPDATE account_lockouts SET account_locked_until = now() + interval '1 day', failed_login_attempts = 1000, lockout_count = 1, last_locked_at = now()
                   WHERE tenant_id = ${campaign.tenant.id}`
      ctx.log('  throttled and locked account, at the same time:')
      const refusals = await together([variant('throttled (429)', { kind: 'address', ip: attacker }, 'throttled'), variant('locked account (423)', { kind: 'campaign' }, 'locked')])

      const allowed = pooled(checks, 0)
      const checked = pooled(checks, 1)
      const throttled = pooled(refusals, 0)
      const locked = pooled(refusals, 1)
      const added = (slices: Slice[], of: (s: Slice) => number) => of(slices[1]!) / of(slices[0]!) - 1
      const cpuShares = spread(checks.map((r) => added(r, (s) => s.cpuMs)))
      const backendShares = spread(checks.map((r) => added(r, (s) => s.backendMs)))
      const percent = (x: number) => `${fmt(x * 100, 1)} %`
      const range = (s: ReturnType<typeof spread>) => `${percent(s.median)} (${percent(s.min)} to ${percent(s.max)})`
      const cpuOverhead = checked.cpuMs / allowed.cpuMs - 1
      const sameFirst = pooled(same, 0)
      const sameSecond = pooled(same, 1)
      const sameShares = spread(same.map((r) => added(r, (s) => s.cpuMs)))
      // A CPU figure per attempt, in ms, and the share it adds to its baseline's.
      const addedCpu = (name: string, value: number, baseline: { name: string; value: number }, ratioMeaning: string): Figure => ({
        name, value, unit: 'ms', baseline, ratio: (value / baseline.value - 1) * 100, ratioMeaning, ratioUnit: '%',
      })

      const perRound: Table = {
        title: `CPU per attempt (ms, client + PostgreSQL) by round, the two variants of each pair at the same time, ${CLIENTS} clients each, ${ms / 1000} s, 100,000 accounts, no argon2`,
        columns: ['round', 'allow-listed', 'throttle checked', 'added', 'added, PostgreSQL only', 'throttled (429)', 'locked (423)', 'throttled / locked'],
        rows: checks.map((r, i) => [
          String(i + 1),
          `${fmt(r[0]!.clientMs, 3)} + ${fmt(r[0]!.backendMs, 3)}`,
          `${fmt(r[1]!.clientMs, 3)} + ${fmt(r[1]!.backendMs, 3)}`,
          percent(added(r, (s) => s.cpuMs)),
          percent(added(r, (s) => s.backendMs)),
          refusals[i]![0]!.cpuMs,
          refusals[i]![1]!.cpuMs,
          `${(refusals[i]![0]!.cpuMs / refusals[i]![1]!.cpuMs).toFixed(2)}×`,
        ]),
      }
      const all: Table = {
        title: `All rounds pooled: attempts/s and CPU per attempt (ms), ${rounds} rounds × ${ms / 1000} s`,
        columns: ['variant', 'attempts/s', 'CPU client', 'CPU PostgreSQL', 'CPU total'],
        rows: (
          [
            ['allow-listed, with itself: first', sameFirst],
            ['allow-listed, with itself: second', sameSecond],
            ['allow-listed (no throttle)', allowed],
            ['throttle checked', checked],
            ['throttled (429)', throttled],
            ['locked account (423)', locked],
          ] as const
        ).map(([name, p]) => [name, p.rate, fmt(p.clientMs, 3), fmt(p.backendMs, 3), fmt(p.cpuMs, 3)]),
      }
      const figures: Figure[] = [
        {
          ...addedCpu(
            `CPU per attempt with the throttle checked (client + PostgreSQL, ${rounds} rounds pooled; median of rounds and range: ${range(cpuShares)})`,
            checked.cpuMs,
            { name: 'without (allow-listed)', value: allowed.cpuMs },
            'CPU added per attempt',
          ),
          target: { text: 'under 5 % of the audit transaction', met: cpuOverhead < 0.05 },
        },
        addedCpu(
          `CPU per attempt, the baseline against itself (two identical processes at the same time: the difference the bench cannot tell from noise; median of rounds and range: ${range(sameShares)})`,
          sameSecond.cpuMs,
          { name: 'the same variant', value: sameFirst.cpuMs },
          'CPU difference per attempt',
        ),
        addedCpu(
          `PostgreSQL CPU per attempt with the throttle checked (median of rounds and range: ${range(backendShares)})`,
          checked.backendMs,
          { name: 'without (allow-listed)', value: allowed.backendMs },
          'PostgreSQL CPU added per attempt',
        ),
        {
          name: 'login attempts/s with the throttle checked (at the same time, pooled)',
          value: checked.rate,
          unit: 'attempts/s',
          baseline: { name: 'without (allow-listed)', value: allowed.rate },
          ratio: (allowed.rate / checked.rate - 1) * 100,
          ratioMeaning: 'time added per attempt',
          ratioUnit: '%',
        },
        {
          name: 'throttled attempts/s (429, no hashing)',
          value: throttled.rate,
          unit: 'attempts/s',
          baseline: { name: 'locked-account attempts (423)', value: locked.rate },
          ratio: throttled.rate / locked.rate,
        },
        {
          name: 'CPU per throttled attempt (client + PostgreSQL)',
          value: throttled.cpuMs,
          unit: 'ms',
          baseline: { name: 'per locked-account attempt', value: locked.cpuMs },
          ratio: throttled.cpuMs / locked.cpuMs,
        },
      ]
      return {
        tables: [perRound, all],
        figures,
        details: { same, checks, refusals },
        notes: [
          'The throttled variant writes login_failed only and touches no lockout row; the locked one also updates the account\'s lockout row.',
          `Before the runs: a trail with history (${HISTORY_EVENTS.toLocaleString('en')} events of another tenant) and ${HISTORY_NETWORKS.toLocaleString('en')} addresses that failed before (budgets refilled, two failed accounts each); before each pair's measured rounds, ${WARMUP_ROUNDS} unmeasured ones, then ANALYZE of the tables the runs grow and one CHECKPOINT. Each variant runs in a process of its own with a pool of its own; its CPU is that process's and its connections' backends'.`,
          'The target is judged on the pooled figure; the rounds\' range says how far one round can be trusted on this machine, and the baseline against itself how far the pooled figure can.',
        ],
      }
    } finally {
      await db.drop()
    }
  },
}
