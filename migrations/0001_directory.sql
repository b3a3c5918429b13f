-- The hospital's directory: departments, practical information, doctors and their shifts.
-- No extensions: the schema runs as it is on any PostgreSQL >= 14 (RDS, Debian's, the embedded pgserver);
-- the data layer's queries need 14 for range_agg and date_bin.
-- Exclusion constraints therefore say "same doctor" as overlapping one-point int4ranges (GiST has no
-- integer equality without btree_gist).
-- Every index here is on a table this file creates, still empty:
-- squawk-ignore-file require-concurrent-index-creation
-- Integer keys only for the doctor directory: thousands of rows at most:
-- squawk-ignore-file prefer-bigint-over-int

CREATE TABLE departments (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 120),
    location    text NOT NULL CHECK (length(location) BETWEEN 1 AND 200),
    phone_extension text CHECK (phone_extension ~ '^[0-9]{2,6}$'),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000)
);

-- Answers to practical questions (opening hours, address, parking...): the agent reads these, never invents them.
CREATE TABLE hospital_info (
    topic  text PRIMARY KEY CHECK (topic ~ '^[a-z_]{2,40}$'),
    answer text NOT NULL CHECK (length(answer) BETWEEN 1 AND 1000)
);

CREATE TABLE doctors (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    specialty     text NOT NULL CHECK (length(specialty) BETWEEN 1 AND 120),
    department_id integer NOT NULL REFERENCES departments (id),
    -- Words of the name, so "Doctor Patel" finds Aisha Patel through the GIN index below.
    name_tokens   text[] GENERATED ALWAYS AS (regexp_split_to_array(lower(btrim(full_name)), '\s+')) STORED,
    languages     text[] NOT NULL DEFAULT '{en}' CHECK (cardinality(languages) >= 1),
    active        boolean NOT NULL DEFAULT true
);
CREATE INDEX doctors_specialty_idx ON doctors (lower(specialty)) WHERE active;
CREATE INDEX doctors_department_idx ON doctors (department_id);
CREATE INDEX doctors_languages_idx ON doctors USING gin (languages);
CREATE INDEX doctors_name_tokens_idx ON doctors USING gin (name_tokens);

CREATE TABLE shifts (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doctor_id integer NOT NULL REFERENCES doctors (id),
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    CONSTRAINT shifts_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT shifts_at_most_one_day CHECK (ends_at - starts_at <= interval '24 hours'),
    -- One doctor is never on two shifts at once; this GiST index also serves "shifts of doctor X in window W".
    CONSTRAINT shifts_no_overlap EXCLUDE USING gist
        (int4range(doctor_id, doctor_id, '[]') WITH &&, tstzrange(starts_at, ends_at) WITH &&)
);
CREATE INDEX shifts_window_idx ON shifts (starts_at, doctor_id);
