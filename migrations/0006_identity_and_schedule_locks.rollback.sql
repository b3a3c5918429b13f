-- A rollback removes what its migration added (a deliberate operator step), and puts back the previous
-- comparison key, a rewrite of patients as in the migration:
-- squawk-ignore-file ban-drop-table, ban-drop-function, ban-drop-view, ban-drop-column, adding-field-with-default, require-concurrent-index-creation, require-concurrent-index-deletion
CREATE OR REPLACE FUNCTION shift_keeps_appointments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM appointments a
        WHERE a.doctor_id = OLD.doctor_id AND a.status = 'booked'
          AND a.starts_at < OLD.ends_at AND a.ends_at > OLD.starts_at
          AND NOT EXISTS (
              SELECT 1 FROM shifts s
              WHERE s.doctor_id = a.doctor_id AND s.starts_at <= a.starts_at AND s.ends_at >= a.ends_at
          )
    ) THEN
        RAISE EXCEPTION 'shift % still holds booked appointments', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'shifts_keep_appointments';
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION appointment_within_shift() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'booked' AND NOT EXISTS (
        SELECT 1 FROM shifts s
        WHERE s.doctor_id = NEW.doctor_id AND s.starts_at <= NEW.starts_at AND s.ends_at >= NEW.ends_at
    ) THEN
        RAISE EXCEPTION 'appointment % is outside every shift of doctor %', NEW.id, NEW.doctor_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'appointments_within_shift';
    END IF;
    RETURN NEW;
END
$$;
DROP FUNCTION slot_facts(integer, timestamptz, interval, bigint);
DROP FUNCTION register_new_patient(text, date, text, text, text, bigint, text);
DROP FUNCTION verify_patient(text, date, text, bigint, text, text);
DROP FUNCTION identity_outcome(bytea, bigint, text, text, bigint);
DROP FUNCTION identity_gate(bytea, bigint);
DROP VIEW identity_lockouts;
DROP TABLE identity_attempts;
DROP TABLE identity_claims;
DROP FUNCTION identity_claim(text);
DROP TABLE identity_key;
DROP INDEX patients_identity_idx;
ALTER TABLE patients DROP COLUMN name_key;
ALTER TABLE patients ADD COLUMN name_key text
    GENERATED ALWAYS AS (lower(regexp_replace(btrim(full_name), '\s+', ' ', 'g'))) STORED;
CREATE INDEX patients_identity_idx ON patients (name_key, date_of_birth);
DROP FUNCTION patient_name_key(text);
