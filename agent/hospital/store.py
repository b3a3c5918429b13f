"""What every PostgreSQL operation of the data layer runs on: the pool, the clock, the hospital's zone, and
`_run`, which repeats a request after a transient failure when that is safe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from agent.hospital import rules
from agent.hospital.records import Actor, BookingRefused, DatabaseUnavailable, InvalidInput, NotFound

logger = logging.getLogger("agent.hospital")

T = TypeVar("T")

# Failures that say nothing about the request itself: the server restarted, failed over, refused for now,
# or the connection dropped. Repeating the request on a fresh connection may succeed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, including ConnectionDoesNotExistError and PgBouncer's errors
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock: rolled back, safe to repeat
    OSError,
    TimeoutError,
)


def not_found_for(error: asyncpg.ForeignKeyViolationError) -> NotFound:
    constraint = error.constraint_name or ""
    for column, thing in (("patient_id", "patient"), ("doctor_id", "doctor"), ("call_session_id", "call session")):
        if constraint.endswith(f"{column}_fkey"):
            return NotFound(f"no such {thing}")
    return NotFound("a record it refers to does not exist")


class PostgresStore:
    """The shared plumbing of the PostgreSQL implementation (see `PostgresHospital`)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        slot_minutes: int,
        timezone: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delays: Sequence[float] = (0.1, 0.4, 1.0),
        acquire_timeout: float = 5.0,
    ) -> None:
        if not 5 <= slot_minutes <= 240:
            raise ValueError("slot_minutes must be between 5 and 240")
        self._pool = pool
        self._slot_minutes = slot_minutes
        self._slot = timedelta(minutes=slot_minutes)
        self._zone = timezone
        self._clock = clock
        self._retry_delays = tuple(retry_delays)
        self._acquire_timeout = acquire_timeout

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now

    def _moment(self, value: object, what: str) -> datetime:
        if not isinstance(value, datetime):
            raise InvalidInput(f"{what} must be a date and time")
        if value.year not in rules.YEARS_ACCEPTED:
            raise InvalidInput(f"{what} is not a plausible date")
        return value if value.tzinfo is not None else value.replace(tzinfo=self._zone)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self._zone)

    def _birth_date(self, value: object) -> date:
        return rules.birth_date(value, today=self._now().astimezone(self._zone).date())

    @staticmethod
    def _actor(actor: Actor) -> tuple[int | None, str]:
        session = None if actor.call_session_id is None else rules.record_id(actor.call_session_id, "call_session_id")
        return session, rules.plain_text(actor.name, "actor name", rules.SHORT_TEXT_MAX)

    async def _run(
        self, operation: str, work: Callable[[asyncpg.Connection], Awaitable[T]], *, safe_to_repeat: bool
    ) -> T:
        """Run `work` on a pooled connection, repeating it after transient failures when that is safe."""
        for attempt in range(len(self._retry_delays) + 1):
            reached_server = False
            try:
                async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                    reached_server = True
                    return await work(connection)
            except TRANSIENT_ERRORS as error:
                # ids, counts and error classes only: messages can quote row values
                logger.warning(
                    "database call failed",
                    extra={"operation": operation, "attempt": attempt + 1, "error": type(error).__name__},
                )
                if attempt == len(self._retry_delays) or (reached_server and not safe_to_repeat):
                    written = "it may or may not have been saved" if reached_server else "nothing was saved"
                    raise DatabaseUnavailable(f"the hospital's records are unavailable right now ({written})") from None
                await asyncio.sleep(self._retry_delays[attempt])
            except asyncpg.CheckViolationError as error:
                # The rules are checked before any SQL; these are races with a change to the doctor's shifts, or a rule
                # the database has that the rules here do not repeat.
                if error.constraint_name == "appointments_within_shift":
                    raise BookingRefused("that time is outside the doctor's working hours") from None
                raise InvalidInput(f"a value was refused ({error.constraint_name or 'check'})") from None
        raise AssertionError("unreachable")  # pragma: no cover
