-- Runs outside a transaction, as the forward migration does (its `transactional: false`), so CONCURRENTLY works.
-- squawk-disable-assume-in-transaction
DROP INDEX CONCURRENTLY IF EXISTS callback_requests_session_idx;
DROP INDEX CONCURRENTLY IF EXISTS call_events_emergency_idx;
DROP INDEX CONCURRENTLY IF EXISTS call_sessions_needs_person_idx;
