-- The staff console: its work queue's state, its patient search (audited in the database), and its own role.
-- depends: 0006_identity_and_schedule_locks
-- Its indexes are on tables this file creates, still empty; those on existing tables are 0008's:
-- squawk-ignore-file require-concurrent-index-creation
--
-- The queue ("needs a person") is callback requests plus calls the agent handed off or flagged as emergencies.
-- Those rows stay as the agent wrote them; what staff do with them (claim, notes, resolve) lives beside them here.

CREATE TABLE follow_ups (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    callback_request_id bigint UNIQUE REFERENCES callback_requests (id),
    call_session_id     bigint UNIQUE REFERENCES call_sessions (id),
    claimed_by          text CHECK (length(claimed_by) BETWEEN 1 AND 80),
    claimed_at          timestamptz,
    resolved_by         text CHECK (length(resolved_by) BETWEEN 1 AND 80),
    resolved_at         timestamptz,
    -- A follow-up is about one callback request or one call without one, never both.
    CONSTRAINT follow_ups_one_subject CHECK (num_nonnulls(callback_request_id, call_session_id) = 1),
    CONSTRAINT follow_ups_claim_whole CHECK ((claimed_by IS NULL) = (claimed_at IS NULL)),
    CONSTRAINT follow_ups_resolution_whole CHECK ((resolved_by IS NULL) = (resolved_at IS NULL)),
    CONSTRAINT follow_ups_resolved_when_claimed CHECK (resolved_at IS NULL OR claimed_at IS NOT NULL)
);

CREATE TABLE follow_up_notes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    follow_up_id bigint NOT NULL REFERENCES follow_ups (id),
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    author       text NOT NULL CHECK (length(author) BETWEEN 1 AND 80),
    note         text NOT NULL CHECK (length(btrim(note)) BETWEEN 1 AND 2000)
);
CREATE INDEX follow_up_notes_follow_up_idx ON follow_up_notes (follow_up_id, at);

-- Staff search patients by record number, phone or part of the name. The console's role can't read the
-- patients table itself: this function (running with its owner's rights) is its only way in, and it writes one
-- audit row per patient it returns, so no read escapes the audit log.
CREATE FUNCTION staff_find_patients(term text, acting text, max_rows integer)
RETURNS TABLE (id bigint, mrn text, full_name text, date_of_birth date, phone text, email text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    wanted text := btrim(term);
BEGIN
    IF length(wanted) < 2 OR length(wanted) > 200 THEN
        RAISE EXCEPTION 'search term must be 2 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF acting !~ '^staff:.{1,74}$' THEN
        RAISE EXCEPTION 'staff searches are audited under a staff actor' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH found AS (
        SELECT p.id, p.mrn, p.full_name, p.date_of_birth, p.phone, p.email FROM patients p
        WHERE p.mrn = upper(wanted)
           OR p.phone = regexp_replace(wanted, '[\s().-]', '', 'g')
           OR p.name_key LIKE '%' || replace(replace(replace(lower(regexp_replace(wanted, '\s+', ' ', 'g')),
                                  '\', '\\'), '%', '\%'), '_', '\_') || '%'
        ORDER BY p.full_name, p.id
        LIMIT greatest(1, least(max_rows, 50))
    ), audit AS (
        INSERT INTO audit_log (actor, action, patient_id, entity, entity_id, detail)
        SELECT acting, 'read', found.id, 'patient', found.id, '{"lookup": "staff search"}'::jsonb FROM found
    )
    SELECT * FROM found;
END
$$;
REVOKE ALL ON FUNCTION staff_find_patients(text, text, integer) FROM PUBLIC;

-- The console's database role: what its pages need and nothing else (no DDL, no patients table, no deletes).
-- Roles belong to the server, not the database: created once, kept by the rollback (other databases on the
-- server may use it); the login role the console connects as is a member of it (docs/console.md).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hospital_console') THEN
        CREATE ROLE hospital_console NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO hospital_console;
GRANT SELECT ON departments, doctors, shifts, call_sessions, call_events, callback_requests, audit_log,
    follow_ups, follow_up_notes TO hospital_console;
-- Booking, moving and cancelling run the agent's own functions (0005), with the staff member as the actor.
GRANT SELECT, INSERT ON appointments TO hospital_console;
GRANT UPDATE (status, cancelled_at) ON appointments TO hospital_console;
-- upcoming_appointments() checks that the patient exists: the key column and nothing else.
GRANT SELECT (id) ON patients TO hospital_console;
GRANT INSERT ON audit_log, follow_ups, follow_up_notes TO hospital_console;
GRANT UPDATE (claimed_by, claimed_at, resolved_by, resolved_at) ON follow_ups TO hospital_console;
GRANT UPDATE (status) ON callback_requests TO hospital_console;
GRANT EXECUTE ON FUNCTION staff_find_patients(text, text, integer) TO hospital_console;
