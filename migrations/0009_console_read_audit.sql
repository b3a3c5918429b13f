-- The console's queue is read through the database, audited: one audit row per patient (or caller without a
-- patient record) per staff member per console session, the first time that person shows on their screen.
-- And the console's role loses its last direct read of patients (their ids, for upcoming_appointments).
-- depends: 0008_console_indexes
-- Its index is its table's primary key, on a table this file creates, still empty:
-- squawk-ignore-file require-concurrent-index-creation
--
-- The queue refreshes itself every 10 seconds: a row per item per refresh would bury the audit log, so this
-- table remembers who was already shown to whom in which console session, and only a newly shown person is
-- audited. The console's role has no right on it: only staff_open_queue writes it, so nothing can mark a person
-- as seen without the audit row that goes with it.

CREATE TABLE console_list_reads (
    console_session     uuid NOT NULL,
    actor               text NOT NULL CHECK (actor ~ '^staff:.{1,74}$'),
    -- Who was shown: a patient, or a callback request whose caller has no patient record.
    patient_id          bigint REFERENCES patients (id),
    callback_request_id bigint REFERENCES callback_requests (id),
    at                  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT console_list_reads_one_subject CHECK (num_nonnulls(patient_id, callback_request_id) = 1),
    CONSTRAINT console_list_reads_once UNIQUE NULLS NOT DISTINCT (console_session, actor, patient_id, callback_request_id)
);

-- The queue ("needs a person", console/queue.py): callback requests and calls the agent handed off or flagged
-- without leaving one, emergencies first, then the oldest. It runs with its owner's rights, so the console's
-- role needs no right to read what callers left (names, numbers, messages), and audits what it returns.
CREATE FUNCTION staff_open_queue(acting text, viewing_session uuid, zone text, max_rows integer)
RETURNS TABLE (
    source text, subject_id bigint, emergency boolean, created_at timestamptz, call_session_id bigint,
    patient_id bigint, caller_name text, callback_phone text, message text, outcome text, claimed_by text,
    claimed_at timestamptz, notes text[]
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff reads are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF viewing_session IS NULL THEN
        RAISE EXCEPTION 'a queue read names its console session' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH items AS (
        SELECT 'callback'::text AS source, cr.id AS subject_id, cr.created_at, cr.call_session_id, cr.patient_id,
               cr.caller_name, cr.callback_phone, cr.message, cs.outcome,
               coalesce(cs.outcome = 'emergency', false) OR EXISTS (
                   SELECT 1 FROM call_events e WHERE e.call_session_id = cr.call_session_id AND e.kind = 'emergency'
               ) AS emergency,
               f.id AS follow_up_id, f.claimed_by, f.claimed_at, f.resolved_at
        FROM callback_requests cr
        LEFT JOIN call_sessions cs ON cs.id = cr.call_session_id
        LEFT JOIN follow_ups f ON f.callback_request_id = cr.id
        WHERE cr.status = 'open'
        UNION ALL
        SELECT 'call', cs.id, cs.started_at, cs.id, cs.patient_id, NULL, NULL, NULL, cs.outcome,
               cs.outcome = 'emergency' OR EXISTS (
                   SELECT 1 FROM call_events e WHERE e.call_session_id = cs.id AND e.kind = 'emergency'
               ),
               f.id, f.claimed_by, f.claimed_at, f.resolved_at
        FROM call_sessions cs
        LEFT JOIN follow_ups f ON f.call_session_id = cs.id
        WHERE (cs.outcome IN ('handed_off', 'emergency')
               OR cs.id IN (SELECT e.call_session_id FROM call_events e WHERE e.kind = 'emergency'))
          AND NOT EXISTS (SELECT 1 FROM callback_requests cr WHERE cr.call_session_id = cs.id)
    ), shown AS (
        SELECT * FROM items
        WHERE items.resolved_at IS NULL
        ORDER BY items.emergency DESC, items.created_at, items.source, items.subject_id
        LIMIT greatest(1, least(max_rows, 500))
    ), first_shown AS (
        INSERT INTO console_list_reads (console_session, actor, patient_id, callback_request_id)
        SELECT DISTINCT viewing_session, acting, s.patient_id,
               CASE WHEN s.patient_id IS NULL THEN s.subject_id END
        FROM shown s
        WHERE s.patient_id IS NOT NULL OR s.source = 'callback'
        ON CONFLICT DO NOTHING
        RETURNING console_list_reads.patient_id, console_list_reads.callback_request_id
    ), audit AS (
        INSERT INTO audit_log (actor, action, patient_id, entity, entity_id, detail)
        SELECT acting, 'read', r.patient_id, 'patient', r.patient_id,
               jsonb_strip_nulls(jsonb_build_object(
                   'listed', 'queue', 'console_session', viewing_session,
                   'callback_request_id', r.callback_request_id
               ))
        FROM first_shown r
    )
    SELECT s.source, s.subject_id, s.emergency, s.created_at, s.call_session_id, s.patient_id, s.caller_name,
           s.callback_phone, s.message, s.outcome, s.claimed_by, s.claimed_at,
           coalesce((SELECT array_agg(n.author || ' (' || to_char(n.at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI')
                                      || '): ' || n.note ORDER BY n.at)
                     FROM follow_up_notes n WHERE n.follow_up_id = s.follow_up_id), '{}')
    FROM shown s
    ORDER BY s.emergency DESC, s.created_at, s.source, s.subject_id;
END
$$;
REVOKE ALL ON FUNCTION staff_open_queue(text, uuid, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_open_queue(text, uuid, text, integer) TO hospital_console;

-- What callers left (name, number, message) is read through staff_open_queue only. Claiming and resolving still
-- find a request's patient and mark it done: the key columns and nothing else.
REVOKE SELECT ON callback_requests FROM hospital_console;
GRANT SELECT (id, patient_id) ON callback_requests TO hospital_console;

-- A patient's upcoming appointments for staff: the agent's own upcoming_appointments (0005, audited per read), run
-- with this function's owner's rights, so the console's role needs no right on patients at all.
CREATE FUNCTION staff_upcoming_appointments(for_patient bigint, not_before timestamptz, max_rows integer, acting text)
RETURNS TABLE (
    id bigint, patient_id bigint, doctor_id integer, doctor_name text, specialty text, starts_at timestamptz,
    ends_at timestamptz, status text, reason text, patient_exists boolean
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff reads are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM upcoming_appointments(for_patient, not_before, max_rows, NULL, acting);
END
$$;
REVOKE ALL ON FUNCTION staff_upcoming_appointments(bigint, timestamptz, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION staff_upcoming_appointments(bigint, timestamptz, integer, text) TO hospital_console;
REVOKE SELECT (id) ON patients FROM hospital_console;
