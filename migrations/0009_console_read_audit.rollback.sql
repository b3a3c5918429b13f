-- A rollback removes what its migration added: a deliberate operator step.
-- squawk-ignore-file ban-drop-table, ban-drop-function
-- The console's role reads callback requests whole again, and patients' ids, as 0007 granted.
GRANT SELECT (id) ON patients TO hospital_console;
REVOKE ALL ON FUNCTION staff_upcoming_appointments(bigint, timestamptz, integer, text) FROM hospital_console;
DROP FUNCTION staff_upcoming_appointments(bigint, timestamptz, integer, text);
REVOKE SELECT (id, patient_id) ON callback_requests FROM hospital_console;
GRANT SELECT ON callback_requests TO hospital_console;
REVOKE ALL ON FUNCTION staff_open_queue(text, uuid, text, integer) FROM hospital_console;
DROP FUNCTION staff_open_queue(text, uuid, text, integer);
DROP TABLE console_list_reads;
