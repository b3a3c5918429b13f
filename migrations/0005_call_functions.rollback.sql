-- A rollback removes what its migration added: a deliberate operator step:
-- squawk-ignore-file ban-drop-table, ban-drop-function
DROP FUNCTION upcoming_appointments(bigint, timestamptz, integer, bigint, text);
DROP FUNCTION cancel_appointment(bigint, bigint, timestamptz, bigint, text);
DROP FUNCTION move_appointment(bigint, bigint, timestamptz, timestamptz, interval, integer, text, bigint, uuid, text);
DROP FUNCTION book_appointment(bigint, integer, timestamptz, interval, text, text, bigint, uuid, text);
DROP FUNCTION find_doctors(text, text, text, integer);
DROP FUNCTION register_patient(text, date, text, text, text, bigint, text);
DROP FUNCTION find_patient(text, date, text, bigint, text, text);
