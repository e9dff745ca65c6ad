import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ROLES, scopeOfSession, TENANT_SHARD, UNATTRIBUTED_TENANT, UNATTRIBUTED_TENANT_ID } from './tenancy.ts'

const migration = (name: string) => readFileSync(new URL(`../../migrations/${name}`, import.meta.url), 'utf8')

describe('the reserved tenant of unattributed attempts', () => {
  it('is the tenant the migrations create: its id, its retention and its sixteen chains', () => {
    expect(UNATTRIBUTED_TENANT_ID).toBe(UNATTRIBUTED_TENANT.id)
    expect(migration('20261123000800_insert_system_tenant.sql')).toContain(`VALUES ('${UNATTRIBUTED_TENANT.id}', '_unattributed', 'Unattributed attempts', ${UNATTRIBUTED_TENANT.retentionDays}, 1)`)
    expect(migration('20261203010100_spread_unattributed_tenant_over_shards.sql')).toContain(
      `UPDATE tenants SET chain_shards = ${UNATTRIBUTED_TENANT.chainShards} WHERE id = '${UNATTRIBUTED_TENANT.id}'`,
    )
    expect(UNATTRIBUTED_TENANT).toEqual({ id: '00000000-0000-0000-0000-000000000000', retentionDays: 90, chainShards: 16 })
  })

  it('puts tenant-level events in the first chain, the one every tenant has', () => {
    expect(TENANT_SHARD).toBe(0)
  })
})

describe('roles and scopes', () => {
  it('knows the roles the users table allows, and no other', () => {
    expect(migration('20261123000200_create_users.sql')).toContain(`CHECK (role IN (${ROLES.map((r) => `'${r}'`).join(', ')}))`)
    expect([...ROLES].sort()).toEqual(['admin', 'auditor', 'user'])
  })

  it('scopes a session to its tenant and organisation', () => {
    expect(scopeOfSession({ tid: 't1', org: 'o1' })).toEqual({ tenantId: 't1', organisationId: 'o1' })
  })
})
