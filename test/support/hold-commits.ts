import type { TestDatabase } from './database.ts'

export interface HeldCommits {
  /** Lets the held COMMITs go: they commit. */
  release(): Promise<void>
  /** Lets them go failing instead: they roll back, nothing of them written. */
  fail(): Promise<void>
  /** Whether a backend of the database is being held (sleeping in the trigger). */
  holding(): Promise<boolean>
  /** Releases and removes the hold. */
  end(): Promise<void>
}

/**
 * Holds the COMMIT of every transaction inserting an auth_logs row whose user agent starts with `prefix`
 * (a deferred trigger looping while a row of test_commit_hold exists; commit-time work is under no
 * statement or lock timeout) until `release` or `fail`. One hold per database at a time.
 */
export async function holdCommits(db: TestDatabase, prefix: string): Promise<HeldCommits> {
  await db.sql`CREATE TABLE test_commit_hold (held boolean, fail boolean NOT NULL DEFAULT false)`
  await db.sql`INSERT INTO test_commit_hold VALUES (true)`
  await db.sql`CREATE FUNCTION test_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      WHILE EXISTS (SELECT 1 FROM test_commit_hold WHERE held) LOOP PERFORM pg_sleep(0.02); END LOOP;
      IF EXISTS (SELECT 1 FROM test_commit_hold WHERE fail) THEN RAISE EXCEPTION 'test_hold_commit: failed on purpose'; END IF;
      RETURN NULL;
    END $$`
  await db.sql.unsafe(`CREATE CONSTRAINT TRIGGER test_hold_commit AFTER INSERT ON auth_logs DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.user_agent LIKE '${prefix.replaceAll("'", "''")}%') EXECUTE FUNCTION test_hold_commit()`)
  const release = async () => {
    await db.sql`DELETE FROM test_commit_hold`
  }
  return {
    release,
    fail: async () => {
      await db.sql`UPDATE test_commit_hold SET held = false, fail = true`
    },
    holding: async () => (await db.sql`SELECT 1 FROM pg_stat_activity WHERE datname = ${db.name} AND wait_event = 'PgSleep'`).length > 0,
    end: async () => {
      await release()
      await db.sql`DROP TRIGGER test_hold_commit ON auth_logs`
      await db.sql`DROP FUNCTION test_hold_commit()`
      await db.sql`DROP TABLE test_commit_hold`
    },
  }
}
