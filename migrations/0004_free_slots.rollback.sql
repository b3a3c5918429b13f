-- A rollback removes what its migration added: a deliberate operator step:
-- squawk-ignore-file ban-drop-table, ban-drop-function
-- Runs outside a transaction, as the forward migration does (its `transactional: false`), so CONCURRENTLY works.
-- squawk-disable-assume-in-transaction
DROP FUNCTION IF EXISTS free_slots(timestamptz, timestamptz, integer, text, interval, timestamptz, integer);
DROP INDEX CONCURRENTLY IF EXISTS appointments_doctor_booked_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS shifts_window_idx ON shifts (starts_at, doctor_id);
DROP INDEX CONCURRENTLY IF EXISTS shifts_doctor_starts_idx;
