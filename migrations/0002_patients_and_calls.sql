-- Patients, the interaction log of every call (requirement 7.1), callback requests and the patient audit log.
-- depends: 0001_directory
-- Every index here is on a table this file creates, still empty:
-- squawk-ignore-file require-concurrent-index-creation
CREATE TABLE patients (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mrn           text NOT NULL UNIQUE CHECK (mrn ~ '^MRN[0-9]{6,10}$'),
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    -- The key identity checks match on: case- and spacing-insensitive.
    name_key      text GENERATED ALWAYS AS (lower(regexp_replace(btrim(full_name), '\s+', ' ', 'g'))) STORED,
    date_of_birth date NOT NULL CHECK (date_of_birth >= DATE '1900-01-01'),
    phone         text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    email         text CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patients_identity_idx ON patients (name_key, date_of_birth);
CREATE INDEX patients_phone_idx ON patients (phone);

CREATE TABLE call_sessions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room       text NOT NULL CHECK (length(room) BETWEEN 1 AND 200),
    job_id     text CHECK (length(job_id) <= 200),
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz,
    outcome    text CHECK (outcome IN ('completed', 'handed_off', 'emergency', 'abandoned', 'error')),
    patient_id bigint REFERENCES patients (id),
    CONSTRAINT call_sessions_end_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX call_sessions_started_idx ON call_sessions (started_at);
CREATE INDEX call_sessions_room_idx ON call_sessions (room);

-- Events carry kinds, tool names, outcomes and timings; never what was said.
CREATE TABLE call_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_session_id bigint NOT NULL REFERENCES call_sessions (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind            text NOT NULL CHECK (kind IN (
        'call_started', 'user_turn', 'agent_turn', 'verified', 'verification_failed', 'tool_call',
        'booking_created', 'booking_moved', 'booking_cancelled', 'patient_registered',
        'emergency', 'handoff', 'call_ended')),
    tool            text CHECK (length(tool) <= 80),
    outcome         text CHECK (length(outcome) <= 80),
    duration_ms     double precision CHECK (duration_ms >= 0),
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_session_idx ON call_events (call_session_id, at);

CREATE TABLE callback_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_session_id bigint REFERENCES call_sessions (id),
    patient_id      bigint REFERENCES patients (id),
    caller_name     text NOT NULL CHECK (length(caller_name) BETWEEN 1 AND 200),
    callback_phone  text NOT NULL CHECK (callback_phone ~ '^\+[1-9][0-9]{6,14}$'),
    message         text NOT NULL CHECK (length(message) BETWEEN 1 AND 2000),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callback_requests_open_idx ON callback_requests (created_at) WHERE status = 'open';

-- Every read or change of a patient's record, and every refused attempt: who (which call), what, when.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    call_session_id bigint REFERENCES call_sessions (id),
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 80),
    action          text NOT NULL CHECK (action IN ('read', 'create', 'update', 'denied')),
    patient_id      bigint REFERENCES patients (id),
    entity          text NOT NULL CHECK (entity IN ('patient', 'appointment')),
    entity_id       bigint,
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_patient_idx ON audit_log (patient_id, at);
CREATE INDEX audit_log_session_idx ON audit_log (call_session_id);
