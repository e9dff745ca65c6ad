-- Session events: token_refreshed, refresh_reuse_detected, logout, session_revoked (src/core/event-catalog.ts).
CREATE OR REPLACE FUNCTION auth_event_type_known(event_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN event_type IN (
  'login_failed', 'account_locked', 'login_success', 'lockout_reset',
  'registration_succeeded', 'registration_failed', 'audit_exported',
  'retention_purged', 'dead_letters_redriven',
  'token_refreshed', 'refresh_reuse_detected', 'logout', 'session_revoked');
