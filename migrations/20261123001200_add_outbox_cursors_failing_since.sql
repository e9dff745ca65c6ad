-- When a chain's head first failed for a sink. A head event is dead-lettered only if the sink accepted
-- something after that moment: a failing event on a working sink is poison, a whole sink down is an outage.
ALTER TABLE outbox_cursors ADD COLUMN failing_since timestamptz;
