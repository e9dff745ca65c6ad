-- A session is one login's refresh-token family (OAuth 2.0 Security BCP, RFC 9700 §4.14): every refresh
-- rotates its token, and presenting a token already rotated revokes the whole family. Access tokens carry
-- the session id (`sid`) and are refused once the session is revoked, expired, or its user's role changed.
CREATE TABLE auth_sessions (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  user_id       uuid NOT NULL REFERENCES users (id),
  channel       text NOT NULL CONSTRAINT auth_sessions_channel_known CHECK (channel IN ('web', 'mobile')),
  -- A mobile session is bound to its device: a refresh from any other device revokes it.
  device_id     text CONSTRAINT auth_sessions_device_id_length CHECK (length(device_id) BETWEEN 1 AND 128),
  -- SHA-256 of the CSRF token a cookie-authenticated request must present (web sessions only).
  csrf_hash     bytea CONSTRAINT auth_sessions_csrf_hash_length CHECK (length(csrf_hash) = 32),
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoked_reason text CONSTRAINT auth_sessions_revoked_reason_known
                  CHECK (revoked_reason IN ('logout', 'logout_all', 'refresh_token_reused', 'device_mismatch', 'admin_revoked')),
  CONSTRAINT auth_sessions_revoked_with_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL)),
  CONSTRAINT auth_sessions_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX auth_sessions_user_active ON auth_sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are opaque random strings stored only as their SHA-256. A rotated token keeps its row
-- (rotated_at set) so that its reuse is recognised for as long as its session could live.
CREATE TABLE refresh_tokens (
  token_hash   bytea PRIMARY KEY CONSTRAINT refresh_tokens_token_hash_length CHECK (length(token_hash) = 32),
  tenant_id    uuid NOT NULL,
  session_id   uuid NOT NULL,
  issued_at    timestamptz NOT NULL,
  rotated_at   timestamptz,
  CONSTRAINT refresh_tokens_session_fkey FOREIGN KEY (tenant_id, session_id) REFERENCES auth_sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- The origins a tenant's browser apps are served from (exact `scheme://host[:port]`), allowed by CORS.
ALTER TABLE tenants ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}'
  CONSTRAINT tenants_allowed_origins_count CHECK (cardinality(allowed_origins) <= 50);
CREATE INDEX tenants_allowed_origins ON tenants USING gin (allowed_origins);

-- The service opens, rotates and revokes sessions; nothing deletes them but the owner.
INSERT INTO authtrail_role_grants (role_kind, object_kind, object_name, privileges) VALUES
  ('runtime', 'table', 'auth_sessions', 'SELECT, INSERT, UPDATE'),
  ('runtime', 'table', 'refresh_tokens', 'SELECT, INSERT, UPDATE')
ON CONFLICT ON CONSTRAINT authtrail_role_grants_pkey DO NOTHING;
