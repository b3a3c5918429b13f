-- The staff console's queue reads: handed-off and emergency calls found by outcome or by their events, and a
-- call's callback requests. These tables already hold the agent's rows, so the indexes are built CONCURRENTLY
-- (the agent keeps writing while they build), which cannot run inside a transaction; each statement is safe to
-- run again, so a build stopped by a timeout is finished by running `apply` again.
-- depends: 0007_console
-- transactional: false
-- squawk-disable-assume-in-transaction

CREATE INDEX CONCURRENTLY IF NOT EXISTS call_sessions_needs_person_idx
    ON call_sessions (started_at) WHERE outcome IN ('handed_off', 'emergency');
CREATE INDEX CONCURRENTLY IF NOT EXISTS call_events_emergency_idx ON call_events (call_session_id) WHERE kind = 'emergency';
CREATE INDEX CONCURRENTLY IF NOT EXISTS callback_requests_session_idx ON callback_requests (call_session_id);
