"""Synthetic, deterministic seed data for a mid-size hospital (dev and staging only, never prod).

Everything comes from one fixed seed (Faker + random.Random), and every date is relative to `today` in the
hospital's time zone, so the same `today` always gives the same rows. Seeding a database that already holds
hospital data does nothing: the seed never deletes or overwrites anything.

A few FIXED records are always present, for conversation tests and the Agent Console demo (see
FIXED_PATIENTS and FIXED_DOCTORS below).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from faker import Faker

from agent.db import migrations
from agent.db.connect import connect

SEED = 20261125
WEEKS = 4
RANDOM_PATIENTS = 300
CANCELLED_SHARE = 0.12
LONG_VISIT_SHARE = 0.15  # share of appointments that take two slots


class SeedRefused(Exception):
    """Seeding is not allowed here (prod) or not possible yet (migrations pending)."""


@dataclass(frozen=True)
class FixedPatient:
    full_name: str
    date_of_birth: date
    phone: str | None
    email: str | None
    mrn: str


@dataclass(frozen=True)
class FixedDoctor:
    full_name: str
    department: str
    specialty: str
    languages: tuple[str, ...]
    # weekday (0 = Monday) -> local (start, end) hours
    week: Mapping[int, tuple[int, int]]


# Known identities for tests and demos. Two "James Smith"s share a name, so only name + date of birth
# (or phone) tells them apart; Zoë O'Connor has an apostrophe, a diaeresis and a UK number.
FIXED_PATIENTS = (
    FixedPatient("Maria Garcia", date(1985, 4, 12), "+15555550123", "maria.garcia@example.com", "MRN100001"),
    FixedPatient("James Smith", date(1972, 11, 3), "+15555550187", "james.smith@example.org", "MRN100002"),
    FixedPatient("James Smith", date(1990, 6, 21), "+15555550188", None, "MRN100003"),
    FixedPatient("Li Wei", date(1958, 2, 28), "+15555550142", "li.wei@example.net", "MRN100004"),
    FixedPatient("Zoë O'Connor", date(1999, 12, 31), "+447700900123", None, "MRN100005"),
)

_WEEKDAYS_9_TO_5 = {day: (9, 17) for day in range(5)}
FIXED_DOCTORS = (
    FixedDoctor("Aisha Patel", "Cardiology", "Cardiology", ("en", "hi"), _WEEKDAYS_9_TO_5),
    FixedDoctor(
        "Carlos Mendoza",
        "Family Medicine",
        "Family Medicine",
        ("en", "es"),
        {**{day: (8, 16) for day in range(5)}, 5: (9, 13)},
    ),
    FixedDoctor("Emily Chen", "Pediatrics", "Pediatrics", ("en", "zh"), {day: (12, 20) for day in range(4)}),
    FixedDoctor("Marc Dubois", "Neurology", "Neurology", ("en", "fr"), {day: (9, 17) for day in (1, 2, 3)}),
)


@dataclass(frozen=True)
class Department:
    name: str
    location: str
    extension: str
    description: str
    specialties: tuple[str, ...]  # the first is the department's main specialty
    doctors: int  # including fixed doctors


DEPARTMENTS = (
    Department(
        "Cardiology",
        "Building A, 3rd floor",
        "3100",
        "Heart and blood vessel care: chest pain follow-up, blood pressure, heart rhythm, heart failure.",
        ("Cardiology",),
        4,
    ),
    Department(
        "Family Medicine",
        "Building B, ground floor",
        "1200",
        "Primary care for all ages: check-ups, vaccinations, chronic conditions, referrals.",
        ("Family Medicine", "Internal Medicine"),
        6,
    ),
    Department(
        "Pediatrics",
        "Building B, 2nd floor",
        "2200",
        "Care for babies, children and teenagers: well-child visits, vaccinations, illness.",
        ("Pediatrics",),
        4,
    ),
    Department(
        "Orthopedics",
        "Building C, 1st floor",
        "4100",
        "Bones, joints and muscles: fractures, joint pain, sports injuries, joint replacement.",
        ("Orthopedic Surgery", "Sports Medicine"),
        4,
    ),
    Department(
        "Neurology",
        "Building A, 4th floor",
        "3400",
        "Brain and nerves: headaches and migraine, epilepsy, stroke follow-up, memory problems.",
        ("Neurology",),
        3,
    ),
    Department(
        "Obstetrics and Gynecology",
        "Building D, 2nd floor",
        "5200",
        "Pregnancy care, women's health, family planning.",
        ("Obstetrics and Gynecology",),
        4,
    ),
    Department(
        "Dermatology",
        "Building C, 3rd floor",
        "4300",
        "Skin, hair and nails: rashes, acne, eczema, mole checks.",
        ("Dermatology",),
        3,
    ),
    Department(
        "Ophthalmology",
        "Building D, 1st floor",
        "5100",
        "Eye care: eye exams, cataract, glaucoma, diabetic eye checks.",
        ("Ophthalmology",),
        3,
    ),
)

HOSPITAL_INFO = {
    "address": "Riverside General Hospital, 1200 Riverside Drive, Springfield. The main entrance is on "
    "Riverside Drive; the Emergency Department entrance is on Oak Street.",
    "phone": "The main switchboard is (555) 010-0100, open 24 hours. Appointments line: (555) 010-0200.",
    "website": "riverside-general.example.org: directions, doctor profiles and the patient portal.",
    "opening_hours": "Outpatient clinics are open Monday to Friday 8 am to 8 pm and Saturday 9 am to 1 pm. "
    "The Emergency Department is open 24 hours a day, every day.",
    "visiting_hours": "Visiting hours are 10 am to 8 pm every day, two visitors per patient at a time. "
    "Parents may stay with children in Pediatrics at any time.",
    "parking": "The visitor garage is on Oak Street, first 30 minutes free, then $2 per hour, $12 per day. "
    "Accessible parking is on level 1 next to the elevators.",
    "emergency": "In an emergency, call 911 or come to the Emergency Department entrance on Oak Street, open 24/7.",
    "pharmacy": "The outpatient pharmacy is in Building B, ground floor, open Monday to Friday 8 am to 7 pm "
    "and Saturday 9 am to 1 pm.",
    "cafeteria": "The cafeteria is in Building A, ground floor, open 7 am to 7 pm every day.",
    "accessibility": "All buildings are step-free with elevators; wheelchairs are available at the main "
    "entrance. Ask at reception for assistance.",
    "interpreter_services": "Free interpreters are available in many languages, in person or by phone. "
    "Ask when you book and we will arrange one.",
    "what_to_bring": "Bring a photo ID, your insurance card, a list of your medicines and any referral letter. "
    "Please arrive 15 minutes early.",
    "cancellation_policy": "Please cancel or reschedule at least 24 hours before your appointment so "
    "another patient can use the slot.",
    "billing": "Billing questions: (555) 010-0300, Monday to Friday 9 am to 5 pm.",
}

REASONS = {
    "Cardiology": ("blood pressure follow-up", "palpitations", "heart check-up", "ECG results review"),
    "Family Medicine": ("annual check-up", "flu-like symptoms", "vaccination", "diabetes follow-up"),
    "Internal Medicine": ("diabetes follow-up", "blood test results", "fatigue", "cholesterol review"),
    "Pediatrics": ("well-child visit", "vaccination", "ear pain", "fever follow-up"),
    "Orthopedic Surgery": ("knee pain", "fracture follow-up", "shoulder pain", "hip replacement consult"),
    "Sports Medicine": ("ankle sprain", "running injury", "knee pain", "physiotherapy review"),
    "Neurology": ("migraine follow-up", "numbness in hands", "epilepsy review", "memory concerns"),
    "Obstetrics and Gynecology": ("prenatal visit", "annual exam", "ultrasound", "contraception advice"),
    "Dermatology": ("mole check", "skin rash", "acne", "eczema follow-up"),
    "Ophthalmology": ("eye exam", "blurred vision", "glaucoma check", "diabetic eye check"),
}

# Extra languages beside English, and how often a doctor speaks them.
LANGUAGES = (("es", 0.25), ("fr", 0.08), ("zh", 0.08), ("ar", 0.06), ("hi", 0.08))
NAME_LOCALE = {"es": "es_MX", "fr": "fr_FR", "hi": "en_IN"}
PATIENT_LOCALES = (("en_US", 0.70), ("es_MX", 0.20), ("en_IN", 0.05), ("fr_FR", 0.05))
AREA_CODES = ("212", "312", "415", "617", "646", "718", "917", "202", "305", "512")

# Weekly templates for random doctors: weekday -> (start hour, end hour), local time.
WEEK_TEMPLATES = (
    {day: (8, 16) for day in range(5)},
    {day: (9, 17) for day in range(5)},
    {0: (8, 18), 1: (8, 18), 3: (8, 18), 4: (8, 18)},
    {0: (9, 17), 1: (12, 20), 2: (9, 17), 3: (12, 20), 4: (9, 17)},
    {**{day: (9, 17) for day in range(1, 5)}, 5: (9, 13)},
    {0: (8, 14), 2: (8, 14), 4: (8, 14)},
)
# Appointments per shift, by week from today: busy soon, emptier further out.
LOAD_BY_WEEK = ((2, 3, 3, 2), (4, 3, 2, 1), (6, 3, 1, 0), (8, 2, 0, 0))


@dataclass
class SeedData:
    departments: list[tuple[str, str, str, str]] = field(default_factory=list)
    hospital_info: list[tuple[str, str]] = field(default_factory=list)
    # full_name, specialty, department name, languages, active
    doctors: list[tuple[str, str, str, list[str], bool]] = field(default_factory=list)
    shifts: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # doctor name, start, end
    patients: list[tuple[str, str, date, str | None, str | None]] = field(default_factory=list)  # mrn first
    # mrn, doctor name, start, end, status, reason
    appointments: list[tuple[str, str, datetime, datetime, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SeedReport:
    already_seeded: bool
    counts: dict[str, int]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _pick(rng: random.Random, weighted: Iterable[tuple[str, float]]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights=weights)[0]


class _Builder:
    def __init__(self, today: date, tz: ZoneInfo, slot_minutes: int, seed: int) -> None:
        self.today, self.tz, self.slot = today, tz, timedelta(minutes=slot_minutes)
        self.rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not security
        self.fakers: dict[str, Faker] = {}
        self.seed = seed
        self.data = SeedData()
        self.weeks: dict[str, Mapping[int, tuple[int, int]]] = {}
        self.specialty: dict[str, str] = {}
        # (doctor, local day) -> booked slot starts
        self.taken: dict[tuple[str, date], set[datetime]] = {}

    def faker(self, locale: str) -> Faker:
        if locale not in self.fakers:
            fake = Faker(locale)
            fake.seed_instance(self.seed)
            self.fakers[locale] = fake
        return self.fakers[locale]

    def at(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), self.tz)

    def build(self) -> SeedData:
        self.data.hospital_info = sorted(HOSPITAL_INFO.items())
        self.data.departments = [(d.name, d.location, d.extension, d.description) for d in DEPARTMENTS]
        self._doctors()
        self._shifts()
        self._patients()
        self._fixed_appointments()
        self._random_appointments()
        return self.data

    def _add_doctor(self, name: str, specialty: str, department: str, languages: list[str], active: bool) -> None:
        self.data.doctors.append((name, specialty, department, languages, active))
        self.specialty[name] = specialty

    def _doctors(self) -> None:
        names = {doctor.full_name for doctor in FIXED_DOCTORS}
        for doctor in FIXED_DOCTORS:
            self._add_doctor(doctor.full_name, doctor.specialty, doctor.department, list(doctor.languages), True)
            self.weeks[doctor.full_name] = doctor.week
        for department in DEPARTMENTS:
            fixed = sum(1 for doctor in FIXED_DOCTORS if doctor.department == department.name)
            for index in range(department.doctors - fixed):
                languages = ["en"] + [code for code, share in LANGUAGES if self.rng.random() < share]
                fake = self.faker(NAME_LOCALE.get(languages[1] if len(languages) > 1 else "", "en_US"))
                name = f"{fake.first_name()} {fake.last_name()}"
                while name in names:
                    name = f"{fake.first_name()} {fake.last_name()}"
                names.add(name)
                specialty = department.specialties[index % len(department.specialties)]
                # One doctor has left: still in the directory for history, but inactive and without shifts.
                active = not (department.name == "Orthopedics" and index == 0)
                self._add_doctor(name, specialty, department.name, languages, active)
                if active:
                    self.weeks[name] = self.rng.choice(WEEK_TEMPLATES)

    def _shifts(self) -> None:
        for name, week in self.weeks.items():
            holiday_week = self.rng.randrange(WEEKS) if self.rng.random() < 0.15 else None
            for offset in range(WEEKS * 7):
                day = self.today + timedelta(days=offset)
                if offset // 7 == holiday_week or day.weekday() not in week:
                    continue
                start, end = week[day.weekday()]
                self.data.shifts.append((name, self.at(day, start), self.at(day, end)))

    def _patients(self) -> None:
        for patient in FIXED_PATIENTS:
            self.data.patients.append(
                (patient.mrn, patient.full_name, patient.date_of_birth, patient.phone, patient.email)
            )
        fixed_names = {patient.full_name for patient in FIXED_PATIENTS}
        numbers = self.rng.sample(range(1_000_000, 10_000_000), RANDOM_PATIENTS)
        for number in numbers:
            fake = self.faker(_pick(self.rng, PATIENT_LOCALES))
            first, last = fake.first_name(), fake.last_name()
            while f"{first} {last}" in fixed_names:  # the fixed identities stay unambiguous
                first, last = fake.first_name(), fake.last_name()
            born = self.today - timedelta(days=self.rng.randrange(30, 95 * 365))
            phone = None
            if self.rng.random() < 0.92:
                phone = f"+1{self.rng.choice(AREA_CODES)}55501{self.rng.randrange(100):02d}"
            email = None
            if self.rng.random() < 0.7:
                domain = self.rng.choice(("com", "org", "net"))
                email = f"{_ascii(first)}.{_ascii(last)}{self.rng.randrange(100)}@example.{domain}"
            self.data.patients.append((f"MRN{number}", f"{first} {last}", born, phone, email))

    def _book(self, mrn: str, doctor: str, starts: datetime, *, slots: int, status: str, reason: str) -> None:
        key = (doctor, starts.date())
        wanted = {starts + self.slot * index for index in range(slots)}
        self.taken.setdefault(key, set()).update(wanted)
        self.data.appointments.append((mrn, doctor, starts, starts + self.slot * slots, status, reason))

    def _first_workday(self, doctor: FixedDoctor, after_days: int) -> date:
        day = self.today + timedelta(days=after_days)
        while day.weekday() not in doctor.week:
            day += timedelta(days=1)
        return day

    def _fixed_appointments(self) -> None:
        patel, mendoza, _chen, dubois = FIXED_DOCTORS
        maria, james_1972 = FIXED_PATIENTS[0], FIXED_PATIENTS[1]
        for patient, doctor, after_days, hour, status, reason in (
            (maria, patel, 2, 10, "booked", "blood pressure follow-up"),
            (maria, mendoza, 1, 9, "cancelled", "annual check-up"),
            (james_1972, dubois, 3, 14, "booked", "migraine follow-up"),
        ):
            starts = self.at(self._first_workday(doctor, after_days), hour)
            self._book(patient.mrn, doctor.full_name, starts, slots=1, status=status, reason=reason)

    def _random_appointments(self) -> None:
        random_mrns = [row[0] for row in self.data.patients[len(FIXED_PATIENTS) :]]
        for doctor, starts_at, ends_at in self.data.shifts:
            week = min((starts_at.date() - self.today).days // 7, len(LOAD_BY_WEEK) - 1)
            count = self.rng.choices(range(4), weights=LOAD_BY_WEEK[week])[0]
            slot_starts = []
            moment = starts_at
            while moment + self.slot <= ends_at:
                slot_starts.append(moment)
                moment += self.slot
            taken = self.taken.setdefault((doctor, starts_at.date()), set())
            for starts in sorted(self.rng.sample(slot_starts, min(count, len(slot_starts)))):
                slots = 2 if self.rng.random() < LONG_VISIT_SHARE else 1
                needed = {starts + self.slot * index for index in range(slots)}
                if starts + self.slot * slots > ends_at or needed & taken:
                    continue
                status = "cancelled" if self.rng.random() < CANCELLED_SHARE else "booked"
                reason = self.rng.choice(REASONS[self.specialty[doctor]])
                self._book(self.rng.choice(random_mrns), doctor, starts, slots=slots, status=status, reason=reason)


def build(today: date, timezone: str, *, slot_minutes: int = 30, seed: int = SEED) -> SeedData:
    """The seed rows, in memory (pure: no database)."""
    return _Builder(today, ZoneInfo(timezone), slot_minutes, seed).build()


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("departments", "doctors", "shifts", "patients", "appointments", "hospital_info")
    query = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM {table}" for table in tables)  # noqa: S608 - fixed names
    return {name: count for name, count in conn.execute(query)}


def _load(conn: psycopg.Connection, data: SeedData) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO hospital_info (topic, answer) VALUES (%s, %s)", data.hospital_info)
        cur.executemany(
            "INSERT INTO departments (name, location, phone_extension, description) VALUES (%s, %s, %s, %s)",
            data.departments,
        )
        departments = dict(cur.execute("SELECT name, id FROM departments").fetchall())
        cur.executemany(
            "INSERT INTO doctors (full_name, specialty, department_id, languages, active) VALUES (%s, %s, %s, %s, %s)",
            [(name, spec, departments[dept], langs, active) for name, spec, dept, langs, active in data.doctors],
        )
        doctors = dict(cur.execute("SELECT full_name, id FROM doctors").fetchall())
        with cur.copy("COPY shifts (doctor_id, starts_at, ends_at) FROM STDIN") as copy:
            for name, starts_at, ends_at in data.shifts:
                copy.write_row((doctors[name], starts_at, ends_at))
        with cur.copy("COPY patients (mrn, full_name, date_of_birth, phone, email) FROM STDIN") as copy:
            for row in data.patients:
                copy.write_row(row)
        patients = dict(cur.execute("SELECT mrn, id FROM patients").fetchall())
        with cur.copy(
            "COPY appointments (patient_id, doctor_id, starts_at, ends_at, status, reason, booked_by, cancelled_at) "
            "FROM STDIN"
        ) as copy:
            cancelled_at = datetime.now(UTC)
            for mrn, doctor, starts_at, ends_at, status, reason in data.appointments:
                row = (patients[mrn], doctors[doctor], starts_at, ends_at, status, reason, "seed")
                copy.write_row((*row, cancelled_at if status == "cancelled" else None))


def seed(
    params: Mapping[str, str],
    *,
    environment: str,
    today: date,
    timezone: str,
    slot_minutes: int = 30,
) -> SeedReport:
    """Load the seed in one transaction, unless the database already holds hospital data."""
    if environment == "prod":
        raise SeedRefused("seed data is never loaded in prod (APP_ENV=prod); nothing was changed")
    pending = migrations.status(params).pending
    if pending:
        raise SeedRefused(f"migrations pending ({', '.join(pending)}): run `python -m agent.db apply` first")
    data = build(today, timezone, slot_minutes=slot_minutes)
    with connect(params) as conn, conn.transaction():
        # Two seeders at once: the second waits here, then finds the data and does nothing.
        conn.execute("LOCK TABLE departments IN EXCLUSIVE MODE")
        populated = conn.execute(
            "SELECT EXISTS (SELECT FROM departments) OR EXISTS (SELECT FROM doctors) OR EXISTS (SELECT FROM patients)"
        ).fetchone()
        if populated and populated[0]:
            return SeedReport(already_seeded=True, counts=table_counts(conn))
        _load(conn, data)
        return SeedReport(already_seeded=False, counts=table_counts(conn))
