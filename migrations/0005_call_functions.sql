-- The receptionist's patient and appointment statements as functions, planned once per server connection.
-- depends: 0004_free_slots
--
-- 0004 did this for free_slots. Behind RDS Proxy and PgBouncer asyncpg's statement cache is off, so a
-- statement sent as text is parsed and planned on every call; for these statements (a write and its audit
-- row in one round trip) that was a quarter to a third of their time (docs/latency.md). PL/pgSQL keeps each
-- statement's plan for the life of the server connection whichever client calls it, and plan_cache_mode (a
-- setting of the function, gone when it returns: no session state) makes it the generic plan from the first call.
-- Each body is one statement; columns are qualified throughout because an unqualified name that is also a result
-- column (id, status...) is ambiguous in PL/pgSQL. The tables are unchanged, so a previous agent version runs on
-- this schema too (expand/contract).

-- Identity check: at most two patients with this name key and birth date or phone (two match nobody), and an
-- audit row naming the patient only when exactly one matched.
CREATE FUNCTION find_patient(name_given text, born date, phone_given text, in_session bigint, acting text, lookup text)
RETURNS TABLE (id bigint, mrn text, full_name text, date_of_birth date, phone text, email text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT p.id, p.mrn, p.full_name, p.date_of_birth, p.phone, p.email FROM patients p
        WHERE p.name_key = lower(regexp_replace(btrim(name_given), '\s+', ' ', 'g'))
          AND (born IS NULL OR p.date_of_birth = born) AND (phone_given IS NULL OR p.phone = phone_given)
        LIMIT 2
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, 'read', CASE WHEN count(*) = 1 THEN min(found.id) END, 'patient',
               CASE WHEN count(*) = 1 THEN min(found.id) END,
               jsonb_build_object('lookup', lookup, 'matches', count(*))
        FROM found
    )
    SELECT * FROM found;
END
$$;

-- A new record, or the one already on file with the same name, birth date and phone: a retried registration
-- never creates a duplicate patient.
CREATE FUNCTION register_patient(
    name_given text, born date, phone_given text, new_mrn text, email_given text, in_session bigint, acting text
) RETURNS TABLE (id bigint, mrn text, full_name text, date_of_birth date, phone text, email text)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH existing AS (
        SELECT p.id, p.mrn, p.full_name, p.date_of_birth, p.phone, p.email FROM patients p
        WHERE p.name_key = lower(regexp_replace(btrim(name_given), '\s+', ' ', 'g'))
          AND p.date_of_birth = born AND p.phone = phone_given
        ORDER BY p.id LIMIT 1
    ), created AS (
        INSERT INTO patients (mrn, full_name, date_of_birth, phone, email)
        SELECT new_mrn, name_given, born, phone_given, email_given WHERE NOT EXISTS (SELECT 1 FROM existing)
        RETURNING patients.id, patients.mrn, patients.full_name, patients.date_of_birth, patients.phone,
                  patients.email
    ), result AS (
        SELECT existing.*, false AS is_new FROM existing UNION ALL SELECT created.*, true FROM created
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, CASE WHEN result.is_new THEN 'create' ELSE 'read' END, result.id, 'patient',
               result.id, '{}'::jsonb
        FROM result
    )
    SELECT result.id, result.mrn, result.full_name, result.date_of_birth, result.phone, result.email FROM result;
END
$$;

-- Active doctors by specialty (any case), all words of a name, and a language code; any filter may be null.
CREATE FUNCTION find_doctors(of_specialty text, named text, speaking text, max_rows integer)
RETURNS TABLE (id integer, full_name text, specialty text, department text, languages text[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT d.id, d.full_name, d.specialty, dep.name, d.languages
    FROM doctors d JOIN departments dep ON dep.id = d.department_id
    WHERE d.active
      AND (of_specialty IS NULL OR lower(d.specialty) = lower(btrim(of_specialty)))
      AND (named IS NULL OR d.name_tokens @> regexp_split_to_array(lower(btrim(named)), '\s+'))
      AND (speaking IS NULL OR d.languages @> ARRAY[lower(btrim(speaking))])
    ORDER BY d.full_name, d.id
    LIMIT max_rows;
END
$$;

-- A booking: the slot must lie in one of the doctor's shifts, on its grid, and the exclusion constraint decides
-- races. ON CONFLICT with no target makes it an arbiter beside the key's index: a taken slot or a replayed key
-- inserts nothing, and concurrent bookings of one slot wait on each other in turn, where plain inserts checked
-- by an exclusion constraint can wait on each other both ways and deadlock. No row back: see agent/hospital.py.
CREATE FUNCTION book_appointment(
    for_patient bigint, with_doctor integer, slot_start timestamptz, slot_length interval, visit_reason text,
    booked_via text, in_session bigint, request_key uuid, acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH slot AS (
        SELECT slot_start AS starts_at, slot_start + slot_length AS ends_at
    ), ins AS (
        INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, reason, booked_by, call_session_id,
                                  idempotency_key)
        SELECT for_patient, with_doctor, slot.starts_at, slot.ends_at, visit_reason, booked_via, in_session,
               request_key
        FROM slot
        WHERE EXISTS (SELECT 1 FROM doctors d WHERE d.id = with_doctor AND d.active)
          AND EXISTS (
            SELECT 1 FROM shifts s
            WHERE s.doctor_id = with_doctor AND s.starts_at > slot.starts_at - interval '24 hours'
              AND s.starts_at <= slot.starts_at AND s.ends_at >= slot.ends_at
              AND date_bin(slot_length, slot.starts_at, s.starts_at) = slot.starts_at)
        ON CONFLICT DO NOTHING
        RETURNING *
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, 'create', ins.patient_id, 'appointment', ins.id, '{}'::jsonb FROM ins
    )
    SELECT a.id, a.patient_id, a.doctor_id, d.full_name, d.specialty, a.starts_at, a.ends_at, a.status, a.reason
    FROM ins a JOIN doctors d ON d.id = a.doctor_id;
END
$$;

-- A move in one statement: the old appointment is cancelled only when the new slot lies on a shift's grid of an
-- active doctor, and the new one is inserted from the cancelled row, so the cancel happens first and the old
-- slot no longer blocks a move to an overlapping time. A taken slot or a reused key raises and undoes both.
CREATE FUNCTION move_appointment(
    moved_appointment bigint, for_patient bigint, not_before timestamptz, slot_start timestamptz,
    slot_length interval, to_doctor integer, booked_via text, in_session bigint, request_key uuid, acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH target AS (
        SELECT slot_start AS starts_at, slot_start + slot_length AS ends_at
    ), old AS (
        UPDATE appointments a SET status = 'cancelled', cancelled_at = now()
        FROM target
        WHERE a.id = moved_appointment AND a.patient_id = for_patient AND a.status = 'booked'
          AND a.starts_at > not_before
          AND EXISTS (SELECT 1 FROM doctors d WHERE d.id = coalesce(to_doctor, a.doctor_id) AND d.active)
          AND EXISTS (
            SELECT 1 FROM shifts s
            WHERE s.doctor_id = coalesce(to_doctor, a.doctor_id)
              AND s.starts_at > target.starts_at - interval '24 hours'
              AND s.starts_at <= target.starts_at AND s.ends_at >= target.ends_at
              AND date_bin(slot_length, target.starts_at, s.starts_at) = target.starts_at)
        RETURNING a.id, a.patient_id, a.doctor_id, a.reason
    ), moved AS (
        INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, reason, booked_by, call_session_id,
                                  idempotency_key, rescheduled_from)
        SELECT old.patient_id, coalesce(to_doctor, old.doctor_id), target.starts_at, target.ends_at, old.reason,
               booked_via, in_session, request_key, old.id
        FROM old, target
        RETURNING *
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, 'update', moved.patient_id, 'appointment', moved.rescheduled_from,
               jsonb_build_object('status', 'cancelled', 'moved_to', moved.id)
        FROM moved
        UNION ALL
        SELECT in_session, acting, 'create', moved.patient_id, 'appointment', moved.id,
               jsonb_build_object('rescheduled_from', moved.rescheduled_from)
        FROM moved
    )
    SELECT a.id, a.patient_id, a.doctor_id, d.full_name, d.specialty, a.starts_at, a.ends_at, a.status, a.reason
    FROM moved a JOIN doctors d ON d.id = a.doctor_id;
END
$$;

-- Cancels the patient's own booked appointment that starts after not_before; no row when there is none.
CREATE FUNCTION cancel_appointment(
    cancelled_appointment bigint, for_patient bigint, not_before timestamptz, in_session bigint, acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH cancelled AS (
        UPDATE appointments a SET status = 'cancelled', cancelled_at = now()
        WHERE a.id = cancelled_appointment AND a.patient_id = for_patient AND a.status = 'booked'
          AND a.starts_at > not_before
        RETURNING *
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, 'update', cancelled.patient_id, 'appointment', cancelled.id,
               '{"status": "cancelled"}'::jsonb
        FROM cancelled
    )
    SELECT a.id, a.patient_id, a.doctor_id, d.full_name, d.specialty, a.starts_at, a.ends_at, a.status, a.reason
    FROM cancelled a JOIN doctors d ON d.id = a.doctor_id;
END
$$;

-- The patient's booked appointments from not_before on, earliest first, audited as one read. Always at least one
-- row: patient_exists tells an unknown patient from one with nothing booked (then the other columns are null).
CREATE FUNCTION upcoming_appointments(
    for_patient bigint, not_before timestamptz, max_rows integer, in_session bigint, acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text, patient_exists boolean
)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH upcoming AS (
        SELECT a.id, a.patient_id, a.doctor_id, d.full_name AS doctor_name, d.specialty, a.starts_at, a.ends_at,
               a.status, a.reason
        FROM appointments a JOIN doctors d ON d.id = a.doctor_id
        WHERE a.patient_id = for_patient AND a.status = 'booked' AND a.starts_at >= not_before
        ORDER BY a.starts_at LIMIT max_rows
    ), audit AS (
        INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
        SELECT in_session, acting, 'read', p.id, 'appointment', NULL,
               jsonb_build_object('upcoming', (SELECT count(*) FROM upcoming))
        FROM patients p WHERE p.id = for_patient
    )
    SELECT u.*, EXISTS (SELECT 1 FROM patients p WHERE p.id = for_patient)
    FROM (SELECT 1) one LEFT JOIN upcoming u ON true
    ORDER BY u.starts_at;
END
$$;
