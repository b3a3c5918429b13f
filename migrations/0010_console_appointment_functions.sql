-- The staff console reaches appointments only through functions: it books, moves and cancels through the agent's
-- own functions run with their owner's rights, reads a day's schedule without patients or reasons, and loses every
-- direct right on appointments (and on staff notes, which it reads through staff_open_queue); a call's events, whose
-- details can name an emergency's kind, are read through an audited function too.
-- depends: 0009_console_read_audit
--
-- Until now the console's role ran book_appointment, move_appointment and cancel_appointment (0005) as itself, so
-- it needed SELECT, INSERT and UPDATE on appointments, and with SELECT it could read any patient's appointment
-- reasons (health information) by patient id without an audit row. The wrappers below call those same functions
-- (one copy of the rules), fix what the console may not choose (booked_by 'staff', no call session, not_before is
-- the database's now) and refuse an actor that is not 'staff:<user>', so every change is audited under the staff
-- member. They run with their owner's rights and a pinned search_path, and only the console's role may run them.

CREATE FUNCTION staff_book_appointment(
    for_patient bigint, with_doctor integer, slot_start timestamptz, slot_length interval, visit_reason text,
    request_key uuid, acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff changes are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM book_appointment(
        for_patient, with_doctor, slot_start, slot_length, visit_reason, 'staff', NULL, request_key, acting);
END
$$;
REVOKE ALL ON FUNCTION staff_book_appointment(bigint, integer, timestamptz, interval, text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_book_appointment(bigint, integer, timestamptz, interval, text, uuid, text)
    TO hospital_console;

CREATE FUNCTION staff_move_appointment(
    moved_appointment bigint, for_patient bigint, slot_start timestamptz, slot_length interval, request_key uuid,
    acting text
) RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff changes are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM move_appointment(
        moved_appointment, for_patient, now(), slot_start, slot_length, NULL, 'staff', NULL, request_key, acting);
END
$$;
REVOKE ALL ON FUNCTION staff_move_appointment(bigint, bigint, timestamptz, interval, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_move_appointment(bigint, bigint, timestamptz, interval, uuid, text)
    TO hospital_console;

CREATE FUNCTION staff_cancel_appointment(cancelled_appointment bigint, for_patient bigint, acting text)
RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff changes are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM cancel_appointment(cancelled_appointment, for_patient, now(), NULL, acting);
END
$$;
REVOKE ALL ON FUNCTION staff_cancel_appointment(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_cancel_appointment(bigint, bigint, text) TO hospital_console;

-- The agent's free_slots (0004) reads booked appointments as its caller: run with its owner's rights. It returns
-- doctors and times only, so it needs no actor and writes no audit row.
CREATE FUNCTION staff_free_slots(
    window_start timestamptz, window_end timestamptz, only_doctor integer, slot_length interval,
    not_before timestamptz, max_slots integer
) RETURNS TABLE (doctor_id integer, doctor_name text, specialty text, starts_at timestamptz, ends_at timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM free_slots(window_start, window_end, only_doctor, NULL, slot_length, not_before,
                                          max_slots);
END
$$;
REVOKE ALL ON FUNCTION staff_free_slots(timestamptz, timestamptz, integer, interval, timestamptz, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_free_slots(timestamptz, timestamptz, integer, interval, timestamptz, integer)
    TO hospital_console;

-- The Today page's booked slots: which doctor is busy when, and who booked it. No appointment id (the audit log
-- ties those to patients), no patient, no reason: nothing here names anyone, so nothing is audited.
CREATE FUNCTION staff_booked_slots(window_start timestamptz, window_end timestamptz)
RETURNS TABLE (doctor_id integer, doctor_name text, starts_at timestamptz, ends_at timestamptz, booked_by text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT a.doctor_id, d.full_name, a.starts_at, a.ends_at, a.booked_by
    FROM appointments a JOIN doctors d ON d.id = a.doctor_id
    -- appointments_at_most_eight_hours bounds how early an appointment reaching into the window can start
    WHERE a.status = 'booked' AND a.starts_at < window_end AND a.ends_at > window_start
      AND a.starts_at > window_start - interval '8 hours'
    ORDER BY a.starts_at, d.full_name, a.doctor_id;
END
$$;
REVOKE ALL ON FUNCTION staff_booked_slots(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_booked_slots(timestamptz, timestamptz) TO hospital_console;

-- A call's events for the Calls page. Events hold kinds, tools, outcomes, timings and ids, never words said, but an
-- emergency event's detail names its kind (chest_pain, suicidal...): health information about the caller. So the
-- console's role reads details only here, and each read audits the call's patient and any patient its events name
-- (a verification, a registration) under the staff member.
CREATE FUNCTION staff_call_events(for_call bigint, acting text, max_rows integer)
RETURNS TABLE (at timestamptz, kind text, tool text, outcome text, duration_ms double precision, detail jsonb)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff reads are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit_log (actor, action, patient_id, entity, entity_id, detail)
    SELECT acting, 'read', named.id, 'patient', named.id,
           jsonb_build_object('listed', 'call events', 'call_session_id', for_call)
    FROM (
        SELECT cs.patient_id AS id FROM call_sessions cs WHERE cs.id = for_call
        UNION
        SELECT (e.detail->>'patient_id')::bigint FROM call_events e
        WHERE e.call_session_id = for_call AND e.detail->>'patient_id' ~ '^[0-9]{1,18}$'
    ) named
    WHERE EXISTS (SELECT 1 FROM patients p WHERE p.id = named.id)
    ORDER BY named.id;
    RETURN QUERY
    SELECT e.at, e.kind, e.tool, e.outcome, e.duration_ms, e.detail FROM call_events e
    WHERE e.call_session_id = for_call
    ORDER BY e.at, e.id
    LIMIT greatest(1, least(max_rows, 500));
END
$$;
REVOKE ALL ON FUNCTION staff_call_events(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_call_events(bigint, text, integer) TO hospital_console;
-- The calls list and the latency charts count and aggregate events: every column but the detail.
REVOKE SELECT ON call_events FROM hospital_console;
GRANT SELECT (id, call_session_id, at, kind, tool, outcome, duration_ms) ON call_events TO hospital_console;

-- Every direct right on appointments goes (0007 granted SELECT, INSERT and UPDATE (status, cancelled_at)), and
-- staff notes are read through staff_open_queue only (audited); the console still adds them.
REVOKE ALL ON appointments FROM hospital_console;
REVOKE SELECT ON follow_up_notes FROM hospital_console;
