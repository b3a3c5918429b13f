DROP TABLE audit_log;
DROP TABLE callback_requests;
DROP TABLE call_events;
DROP TABLE call_sessions;
DROP TABLE patients;
