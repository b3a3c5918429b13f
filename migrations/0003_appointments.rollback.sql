-- A rollback removes what its migration added: a deliberate operator step:
-- squawk-ignore-file ban-drop-table, ban-drop-function
DROP TRIGGER shifts_keep_appointments ON shifts;
DROP FUNCTION shift_keeps_appointments();
DROP TABLE appointments;
DROP FUNCTION appointment_within_shift();
