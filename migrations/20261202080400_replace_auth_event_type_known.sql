-- ip_throttled: an address throttled for spending its failure budget (once per episode). The list carries
-- every type known before it (src/core/event-catalog.ts; a test compares them).
CREATE OR REPLACE FUNCTION auth_event_type_known(event_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN event_type IN (
  'login_failed', 'account_locked', 'login_success', 'lockout_reset',
  'registration_succeeded', 'registration_failed', 'audit_exported',
  'retention_purged', 'dead_letters_redriven',
  'token_refreshed', 'refresh_reuse_detected', 'logout', 'session_revoked',
  'ip_throttled');
