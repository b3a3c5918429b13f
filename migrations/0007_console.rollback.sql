-- A rollback removes what its migration added: a deliberate operator step.
-- squawk-ignore-file ban-drop-table, ban-drop-function
-- The role hospital_console stays (it belongs to the server; other databases may use it): its rights here go.
REVOKE ALL ON FUNCTION staff_find_patients(text, text, integer) FROM hospital_console;
REVOKE ALL ON departments, doctors, shifts, call_sessions, call_events, callback_requests, audit_log, appointments,
    patients FROM hospital_console;
REVOKE ALL ON SCHEMA public FROM hospital_console;
DROP FUNCTION staff_find_patients(text, text, integer);
DROP TABLE follow_up_notes;
DROP TABLE follow_ups;
