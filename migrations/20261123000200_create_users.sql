-- Users hold an argon2id PHC string; the identifier is stored normalised (NFKC, trimmed, lower case).
CREATE TABLE users (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  organisation_id  uuid NOT NULL,
  identifier       text NOT NULL CONSTRAINT users_identifier_length CHECK (length(identifier) BETWEEN 1 AND 254),
  password_hash    text NOT NULL CONSTRAINT users_password_hash_argon2id CHECK (password_hash LIKE '$argon2id$%'),
  role             text NOT NULL DEFAULT 'user' CONSTRAINT users_role_known CHECK (role IN ('user', 'admin', 'auditor')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_tenant_identifier_key UNIQUE (tenant_id, identifier),
  CONSTRAINT users_organisation_fkey FOREIGN KEY (tenant_id, organisation_id) REFERENCES organisations (tenant_id, id)
);
