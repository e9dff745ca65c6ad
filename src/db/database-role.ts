import type { Queryable } from './queryable.ts'

/** Who a connection is, as far as the trail's safety is concerned. */
export interface DatabaseRole {
  role: string
  superuser: boolean
  /** The role owns auth_logs, or is a member of the role that does: it could disable the triggers. */
  ownsAuditTables: boolean
}

/** Reads the connected role's standing: superuser, and owner (or member of the owner) of the audit tables. */
export async function describeDatabaseRole(db: Queryable): Promise<DatabaseRole> {
  const [row] = await db<{ role: string; superuser: boolean; owns: boolean | null }[]>`
    SELECT current_user AS role,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
           (SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass('auth_logs')) AS owns`
  return { role: row!.role, superuser: row!.superuser, ownsAuditTables: row!.owns ?? false }
}

/**
 * Why the service must not run on this connection in production, or null when it may: a superuser or
 * the audit tables' owner can disable the append-only triggers and rewrite the trail.
 */
export function refusalToRunAs(role: DatabaseRole): string | null {
  if (role.superuser) return `DATABASE_URL connects as "${role.role}", a superuser: connect as the runtime role (see authtrail migrate)`
  if (role.ownsAuditTables) return `DATABASE_URL connects as "${role.role}", which owns the audit tables: connect as the runtime role (see authtrail migrate)`
  return null
}
