-- Appointments: never two booked ones for a doctor at once, always inside one of that doctor's shifts.
-- depends: 0002_patients_and_calls
-- Every index here is on a table this file creates, still empty:
-- squawk-ignore-file require-concurrent-index-creation
-- Integer keys only for the doctor directory: thousands of rows at most:
-- squawk-ignore-file prefer-bigint-over-int
CREATE TABLE appointments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id       bigint NOT NULL REFERENCES patients (id),
    doctor_id        integer NOT NULL REFERENCES doctors (id),
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'booked'
                     CHECK (status IN ('booked', 'cancelled', 'completed', 'no_show')),
    reason           text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    booked_by        text NOT NULL CHECK (booked_by IN ('agent', 'staff', 'seed')),
    call_session_id  bigint REFERENCES call_sessions (id),
    -- A retried write carries the same key and finds its first result instead of booking twice.
    idempotency_key  uuid UNIQUE,
    rescheduled_from bigint REFERENCES appointments (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    CONSTRAINT appointments_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT appointments_at_most_eight_hours CHECK (ends_at - starts_at <= interval '8 hours'),
    CONSTRAINT appointments_cancelled_at_matches_status CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    -- The rule the whole booking flow leans on; also the index for "booked slots of doctor X in window W".
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist
        (int4range(doctor_id, doctor_id, '[]') WITH &&, tstzrange(starts_at, ends_at) WITH &&)
        WHERE (status = 'booked')
);
CREATE INDEX appointments_patient_upcoming_idx ON appointments (patient_id, starts_at) WHERE status = 'booked';
CREATE INDEX appointments_session_idx ON appointments (call_session_id);

CREATE FUNCTION appointment_within_shift() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER appointments_within_shift
    BEFORE INSERT OR UPDATE OF doctor_id, starts_at, ends_at, status ON appointments
    FOR EACH ROW EXECUTE FUNCTION appointment_within_shift();

-- A shift can't shrink or vanish from under a booked appointment.
CREATE FUNCTION shift_keeps_appointments() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER shifts_keep_appointments
    AFTER UPDATE OR DELETE ON shifts
    FOR EACH ROW EXECUTE FUNCTION shift_keeps_appointments();
