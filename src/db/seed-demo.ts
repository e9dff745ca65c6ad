import type { Sql } from './client.ts'
import { createOrganisation, createTenant, createUser, findTenantBySlug } from './tenants.ts'

export const DEMO = {
  tenant: 'demo',
  user: { identifier: 'alice@example.com', password: 'correct horse battery staple' },
  admin: { identifier: 'admin@example.com', password: 'admin: correct horse battery' },
} as const

/** Seeds a demo tenant with a user and an admin, once. Development only. */
export async function seedDemo(sql: Sql, hasher: { hash(password: string): Promise<string> }): Promise<void> {
  if (await findTenantBySlug(sql, DEMO.tenant)) return
  const tenant = await createTenant(sql, { slug: DEMO.tenant, name: 'Demo tenant', canDownload: true, retentionDays: 30, registrationMode: 'open' })
  const org = await createOrganisation(sql, tenant.id, 'Demo organisation')
  await createUser(sql, { tenantId: tenant.id, organisationId: org.id, identifier: DEMO.user.identifier, passwordHash: await hasher.hash(DEMO.user.password) })
  await createUser(sql, { tenantId: tenant.id, organisationId: org.id, identifier: DEMO.admin.identifier, passwordHash: await hasher.hash(DEMO.admin.password), role: 'admin' })
}
