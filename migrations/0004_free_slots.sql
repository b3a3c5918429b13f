-- Free slots as a function, so the agent's most frequent read is planned once per server connection.
-- depends: 0003_appointments
-- transactional: false
-- squawk-disable-assume-in-transaction
--
-- Behind RDS Proxy and PgBouncer the data layer runs with asyncpg's statement cache off, so a query sent as
-- text is planned on every call; for the free-slot query that planning cost more than running it. PL/pgSQL
-- keeps the plan of the function's query for the life of the server connection, whichever client calls it,
-- and `plan_cache_mode` (a setting of the function, gone when it returns: no session state) makes it one
-- generic plan instead of a re-plan per call that the cost model would otherwise pick here.
--
-- Both lookups are by doctor: a shift or a booked appointment of doctor D near time T. Btree indexes on
-- (doctor_id, starts_at) answer them in a few key reads; the GiST indexes of the exclusion constraints stay
-- for the constraints, and the starts_at-first index on shifts, which no query uses any more, goes.
-- A previous agent version's queries also run on this schema (expand/contract: no rollback needed for it).
--
-- The indexes are built and dropped CONCURRENTLY, so the agent's bookings are not blocked while they build; that
-- cannot run inside a transaction, hence `transactional: false`. Each statement is safe to run again, so a
-- migration stopped part way (a lock or statement timeout) is finished by running `apply` again.

CREATE INDEX CONCURRENTLY IF NOT EXISTS shifts_doctor_starts_idx ON shifts (doctor_id, starts_at);
DROP INDEX CONCURRENTLY IF EXISTS shifts_window_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_doctor_booked_idx
    ON appointments (doctor_id, starts_at) WHERE status = 'booked';

-- Free slots of one doctor (only_doctor) or one specialty (only_specialty, any case), earliest first, at most
-- max_slots: slots start at a shift's start and every slot_length after it, end inside the shift, start in
-- [window_start, window_end) and not before not_before, and overlap no booked appointment.
-- Each doctor's booked time in the window is read once as a multirange, so testing a slot is a binary search.
-- The window is walked a day at a time and the outer LIMIT stops the walk once enough slots are found, so the
-- work stays about one day's worth however long the window or full the calendar.
CREATE OR REPLACE FUNCTION free_slots(
    window_start timestamptz,
    window_end timestamptz,
    only_doctor integer,
    only_specialty text,
    slot_length interval,
    not_before timestamptz,
    max_slots integer
) RETURNS TABLE (doctor_id integer, doctor_name text, specialty text, starts_at timestamptz, ends_at timestamptz)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    WITH doc AS MATERIALIZED (
        SELECT d.id, d.full_name, d.specialty,
               -- appointments_at_most_eight_hours bounds how early an overlapping appointment can start
               (SELECT range_agg(tstzrange(a.starts_at, a.ends_at)) FROM appointments a
                WHERE a.status = 'booked' AND a.doctor_id = d.id
                  AND a.starts_at > window_start - interval '8 hours' AND a.starts_at < window_end + slot_length
                  AND a.ends_at > window_start) AS busy
        FROM doctors d
        WHERE d.active AND (only_doctor IS NULL OR d.id = only_doctor)
          AND (only_specialty IS NULL OR lower(d.specialty) = lower(btrim(only_specialty)))
    ), chunk AS (
        SELECT greatest(c, window_start) AS day_start, least(c + interval '1 day', window_end) AS day_end
        FROM generate_series(window_start, window_end - interval '1 microsecond', interval '1 day') AS c
    )
    SELECT found.* FROM chunk CROSS JOIN LATERAL (
        SELECT doc.id, doc.full_name, doc.specialty, slot, slot + slot_length
        FROM doc
        -- shifts_at_most_one_day bounds how early a shift reaching into the chunk can start
        JOIN shifts s ON s.doctor_id = doc.id
            AND s.starts_at > chunk.day_start - interval '24 hours' AND s.starts_at < chunk.day_end
            AND s.ends_at > chunk.day_start
        CROSS JOIN LATERAL generate_series(s.starts_at, s.ends_at - slot_length, slot_length) AS slot
        WHERE slot >= chunk.day_start AND slot < chunk.day_end AND slot >= not_before
          AND NOT coalesce(doc.busy && tstzrange(slot, slot + slot_length), false)
        ORDER BY slot, doc.id
        LIMIT max_slots
    ) AS found
    LIMIT max_slots;
END
$$;
