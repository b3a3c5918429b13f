-- A rollback removes what its migration added: a deliberate operator step:
-- squawk-ignore-file ban-drop-table, ban-drop-function
DROP TABLE audit_log;
DROP TABLE callback_requests;
DROP TABLE call_events;
DROP TABLE call_sessions;
DROP TABLE patients;
