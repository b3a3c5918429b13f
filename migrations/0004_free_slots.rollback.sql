DROP FUNCTION free_slots(timestamptz, timestamptz, integer, text, interval, timestamptz, integer);
DROP INDEX appointments_doctor_booked_idx;
CREATE INDEX shifts_window_idx ON shifts (starts_at, doctor_id);
DROP INDEX shifts_doctor_starts_idx;
