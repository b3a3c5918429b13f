-- A rollback removes what its migration added: a deliberate operator step.
-- squawk-ignore-file ban-drop-function
-- The console's role reads staff notes and appointments, and books through the agent's functions as itself, again,
-- as 0007 granted, and call events whole.
GRANT SELECT ON follow_up_notes TO hospital_console;
GRANT SELECT, INSERT ON appointments TO hospital_console;
GRANT UPDATE (status, cancelled_at) ON appointments TO hospital_console;
REVOKE SELECT (id, call_session_id, at, kind, tool, outcome, duration_ms) ON call_events FROM hospital_console;
GRANT SELECT ON call_events TO hospital_console;
DROP FUNCTION staff_call_events(bigint, text, integer);
DROP FUNCTION staff_booked_slots(timestamptz, timestamptz);
DROP FUNCTION staff_free_slots(timestamptz, timestamptz, integer, interval, timestamptz, integer);
DROP FUNCTION staff_cancel_appointment(bigint, bigint, text);
DROP FUNCTION staff_move_appointment(bigint, bigint, timestamptz, interval, uuid, text);
DROP FUNCTION staff_book_appointment(bigint, integer, timestamptz, interval, text, uuid, text);
