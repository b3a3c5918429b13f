"""TLS to the database: a server that accepts only TLS, with certificates the test makes (trustme).

Debian's PostgreSQL is built with OpenSSL (the pgserver wheel's is not), so these tests need it.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import trustme

from agent.hospital import PostgresHospital
from agent.hospital.pool import create_pool, tls_context
from agent.settings import DatabaseSettings
from devtools.testing.factories import ZONE, create_migrated_database
from devtools.testing.postgres import DEBIAN_PACKAGE_HINT, PostgresServer, debian_bin_dir, require_os_package

CERT_NAMES = ("db.internal.test", "localhost")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[PostgresServer]:
    bin_dir = debian_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    root = Path(tempfile.mkdtemp(prefix="pytest-tls-postgres-"))  # outside pytest's 0700 basetemp (see conftest)
    cert = ca.issue_cert(*CERT_NAMES)
    cert_file, key_file = root / "server.crt", root / "server.key"
    cert_file.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(key_file)
    key_file.chmod(0o600)  # PostgreSQL refuses a key others can read; init() hands both to the server's user
    server = (
        PostgresServer(
            root=root,
            bin_dir=bin_dir,
            settings={"ssl": "on", "ssl_cert_file": f"'{cert_file}'", "ssl_key_file": f"'{key_file}'"},
            hba=[
                "local all all trust",
                "hostssl all all 127.0.0.1/32 trust",
                "host all all 127.0.0.1/32 reject",
            ],
        )
        .init()
        .start()
    )
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def database(tls_server: PostgresServer) -> str:
    return create_migrated_database(tls_server).rsplit("/", 1)[1]  # psycopg's default sslmode=prefer uses TLS


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(path)
    return path


def settings_for(url: str, ca_file: Path, server_name: str | None = None) -> DatabaseSettings:
    return DatabaseSettings(
        _env_file=None,
        app_env="staging",
        database_url=url,
        database_ca_file=ca_file,
        database_tls_server_name=server_name,
    )


async def test_a_plain_client_is_refused(tls_server, database):
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match=r"pg_hba\.conf rejects"):
        await asyncpg.connect(tls_server.dsn(database), ssl=False)


async def test_the_data_layer_connects_with_verify_full(tls_server, database, ca_file):
    pool = await create_pool(settings_for(tls_server.dsn(database, host="localhost"), ca_file))
    try:
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        hospital = PostgresHospital(pool, slot_minutes=30, timezone=ZONE)
        assert await hospital.list_departments() == []
    finally:
        await pool.close()


async def test_a_certificate_for_another_host_name_is_refused(tls_server, database, ca_file):
    # The certificate names db.internal.test and localhost, not 127.0.0.1.
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        await create_pool(settings_for(tls_server.dsn(database, host="127.0.0.1"), ca_file))


async def test_a_certificate_from_another_authority_is_refused(tls_server, database, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        await create_pool(settings_for(tls_server.dsn(database, host="localhost"), other_ca))


async def test_the_server_name_setting_checks_that_name_instead_of_the_dialled_host(tls_server, database, ca_file):
    # As through Private Link: dial an address the certificate does not name, verify the proxy's own name.
    url = tls_server.dsn(database, host="127.0.0.1")
    pool = await create_pool(settings_for(url, ca_file, server_name="db.internal.test"))
    try:
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await pool.close()
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        await create_pool(settings_for(url, ca_file, server_name="proxy.elsewhere.test"))


def test_tls_context_is_verify_full_and_plain_only_in_dev(ca_file):
    context = tls_context(settings_for("postgresql://db.internal.test/hospital", ca_file))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    dev = DatabaseSettings(_env_file=None, app_env="dev", database_url="postgresql://localhost/hospital")
    assert tls_context(dev) is None
