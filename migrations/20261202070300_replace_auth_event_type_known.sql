-- chain_checkpoint: a signed checkpoint of a chain head, recorded in the chain it checkpoints so that it
-- reaches the document store and the SIEM through the outbox (src/core/event-catalog.ts), added to the
-- list the function holds, whatever other migrations added before it: the names in the current
-- definition's literals, then ours.
DO $$
DECLARE
  known text[];
BEGIN
  SELECT array_agg(DISTINCT name) INTO known
  FROM regexp_matches(pg_get_functiondef('auth_event_type_known(text)'::regprocedure), '''([^'']*)''', 'g') AS literal,
       regexp_split_to_table(literal[1], '[^a-z0-9_]+') AS name
  WHERE name <> '';
  known := known || ARRAY['chain_checkpoint'];
  SELECT array_agg(DISTINCT t ORDER BY t) INTO known FROM unnest(known) AS t;
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION auth_event_type_known(event_type text) RETURNS boolean '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN event_type = ANY (%L::text[])', known);
END
$$;
