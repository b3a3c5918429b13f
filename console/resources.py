"""What every session of the process shares: settings, the database pool, the identity keys (cached once), and
the list of doctors (cached a few minutes)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import psycopg
import streamlit as st
from psycopg_pool import ConnectionPool, PoolTimeout

from agent.settings import load
from console.db import open_pool
from console.identity import AlbPublicKeys, CognitoKeys
from console.patients import DoctorChoice
from console.patients import doctors as bookable_doctors
from console.settings import ConsoleSettings

logger = logging.getLogger(__name__)

DOCTORS_TTL_SECONDS = 300


@st.cache_resource
def settings() -> ConsoleSettings:
    return load(ConsoleSettings)


@st.cache_resource(on_release=ConnectionPool.close)
def pool() -> ConnectionPool:
    return open_pool(settings())


def zone() -> ZoneInfo:
    return ZoneInfo(settings().hospital_timezone)


@contextlib.contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """A pooled connection: committed when the block ends, rolled back on error.

    When the database can't be reached, the page says so in one line and stops (no traceback for staff; the
    log has the error's class, never its text, which can quote values).
    """
    try:
        with pool().connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as error:
        logger.warning("database unavailable", extra={"error": type(error).__name__})
        st.error("The hospital's database can't be reached right now: try again in a moment.", icon=":material/error:")
        st.stop()


@st.cache_resource(ttl=DOCTORS_TTL_SECONDS)
def doctors() -> tuple[DoctorChoice, ...]:
    """Who can be booked: the same for every staff member and patient, so read every few minutes, not per page run
    (a doctor added meanwhile shows within DOCTORS_TTL_SECONDS; a booking is still checked by the database)."""
    with connection() as conn:
        return tuple(bookable_doctors(conn))


@st.cache_resource
def alb_keys() -> AlbPublicKeys:
    return AlbPublicKeys(settings().alb_trust.region)


@st.cache_resource
def cognito_keys() -> CognitoKeys:
    return CognitoKeys(settings().alb_trust.issuer)
