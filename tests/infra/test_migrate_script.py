"""infra/scripts/migrate.sh end to end in public mode (what `pulumi up` runs for dev): against a TLS-only
PostgreSQL with certificates made by the test, credentials from moto's Secrets Manager (a stand-in on
loopback), the CA bundle fetched by curl. It migrates, creates the agent's role, verifies and seeds."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
import trustme

from devtools.testing.postgres import DEBIAN_PACKAGE_HINT, PostgresServer, debian_bin_dir, require_os_package
from tests.infra.harness import ROOT

REGION = "us-east-1"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[PostgresServer]:
    bin_dir = debian_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    root = Path(tempfile.mkdtemp(prefix="pytest-infra-tls-postgres-"))
    cert = ca.issue_cert("localhost")
    cert_file, key_file = root / "server.crt", root / "server.key"
    cert_file.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(key_file)
    key_file.chmod(0o600)
    server = PostgresServer(
        root=root,
        bin_dir=bin_dir,
        settings={"ssl": "on", "ssl_cert_file": f"'{cert_file}'", "ssl_key_file": f"'{key_file}'"},
        hba=["local all all trust", "hostssl all all 127.0.0.1/32 trust", "host all all 127.0.0.1/32 reject"],
    )
    server.init().start()
    yield server
    server.destroy()


def test_migrate_script_in_public_mode(
    tls_server: PostgresServer, moto_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    tls_server.execute("CREATE DATABASE hospital")
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url, **_keys())
    master = client.create_secret(Name="master", SecretString=json.dumps({"username": "postgres", "password": "x"}))
    app = client.create_secret(
        Name="app", SecretString=json.dumps({"username": "hospital_app", "password": "MadeUpAppPassword0001"})
    )
    env = {
        **os.environ,
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": moto_url,
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "APP_ENV": "dev",
        "AWS_REGION": REGION,
        "DB_HOST": "localhost",
        "DB_PORT": str(tls_server.port),
        "DB_NAME": "hospital",
        "DB_SECRET_ARN": master["ARN"],
        "APP_DB_SECRET_ARN": app["ARN"],
        "SEED": "1",
        "DATABASE_CA_BUNDLE_URL": ca_file.as_uri(),
    }
    result = subprocess.run(
        ["bash", "infra/scripts/migrate.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MadeUpAppPassword0001" not in result.stdout + result.stderr
    with psycopg.connect(tls_server.dsn("hospital")) as conn:
        assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] > 0, "seeded"
        role = conn.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'hospital_app'").fetchone()
        assert role == (True, False)
    assert "migrate: done" in result.stderr

    again = subprocess.run(
        ["bash", "infra/scripts/migrate.sh"],
        cwd=ROOT,
        env={**env, "SEED": "0", "DATABASE_CA_BUNDLE_URL": (tmp_path / "missing.pem").as_uri()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode != 0, "no CA bundle, no migration"


FORWARDER = """
import asyncio, sys

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

async def main(local_port, remote_port):
    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", remote_port)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
    server = await asyncio.start_server(handle, "127.0.0.1", local_port)
    async with server:
        await server.serve_forever()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""

# Stand-in for `aws ssm start-session --document-name AWS-StartPortForwardingSessionToRemoteHost`: checks the
# arguments migrate.sh passes, then forwards localPortNumber to portNumber on loopback.
FAKE_AWS_CLI = """#!/usr/bin/env bash
set -euo pipefail
[[ "$1 $2" == "ssm start-session" ]] || { echo "unexpected: $*" >&2; exit 9; }
args="$*"
[[ "$args" == *"--target i-0tunnel"* && "$args" == *"--document-name AWS-StartPortForwardingSessionToRemoteHost"* ]] \
    || { echo "unexpected: $args" >&2; exit 9; }
params="${args##*--parameters }"; params="${params%% *}"
remote="$(sed -E 's/.*portNumber=([0-9]+).*/\\1/' <<<"${params/localPortNumber/x}")"
local_port="$(sed -E 's/.*localPortNumber=([0-9]+).*/\\1/' <<<"$params")"
echo $$ > "$TUNNEL_PID_FILE"
exec "$PYTHON" "$FORWARDER_FILE" "$local_port" "$remote"
"""


def test_migrate_script_through_the_ssm_tunnel(
    tls_server: PostgresServer, moto_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    """Private-link mode: the script dials 127.0.0.1 through the tunnel but checks the database's own name."""
    from devtools.testing.postgres import free_port

    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    tls_server.execute("CREATE DATABASE hospital_tunnel")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS_CLI)
    (bin_dir / "aws").chmod(0o755)
    (tmp_path / "forwarder.py").write_text(FORWARDER)
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url, **_keys())
    master = client.create_secret(Name="master-t", SecretString=json.dumps({"username": "postgres", "password": "x"}))
    app = client.create_secret(Name="app-t", SecretString=json.dumps({"username": "hospital_app", "password": "y"}))
    pid_file = tmp_path / "tunnel.pid"
    env = {
        **os.environ,
        **FAKE_AWS,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": moto_url,
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "FORWARDER_FILE": str(tmp_path / "forwarder.py"),
        "TUNNEL_PID_FILE": str(pid_file),
        "APP_ENV": "staging",
        "AWS_REGION": REGION,
        "DB_HOST": "localhost",
        "DB_PORT": str(tls_server.port),
        "DB_NAME": "hospital_tunnel",
        "DB_SECRET_ARN": master["ARN"],
        "APP_DB_SECRET_ARN": app["ARN"],
        "SEED": "0",
        "DATABASE_CA_BUNDLE_URL": ca_file.as_uri(),
        "TUNNEL_INSTANCE_ID": "i-0tunnel",
        "LOCAL_PORT": str(free_port()),
    }
    result = subprocess.run(
        ["bash", "infra/scripts/migrate.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SSM tunnel to the database is up" in result.stderr
    tunnel_pid = int(pid_file.read_text())
    assert not _alive(tunnel_pid), "the script stopped its tunnel"
    with psycopg.connect(tls_server.dsn("hospital_tunnel")) as conn:
        assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 0, "no seed when SEED=0"
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'hospital_app'").fetchone()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


# Stand-in for `aws ssm start-session` whose session never opens the local port: like the real CLI, it starts a
# child (the Session Manager plugin) and waits on it. Both pids go to TUNNEL_PID_FILE.
HANGING_AWS_CLI = """#!/usr/bin/env bash
sleep 300 &
echo "$$ $!" > "$TUNNEL_PID_FILE"
echo "Starting session with SessionId: stand-in"
wait
"""


def test_migrate_script_fails_when_the_tunnel_port_never_opens(tmp_path: Path) -> None:
    """`aws` stays alive but the port never opens: the script says so, fails, and stops aws and the plugin."""
    from devtools.testing.postgres import free_port

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(HANGING_AWS_CLI)
    (bin_dir / "aws").chmod(0o755)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not needed: the script stops before it connects\n")
    pid_file = tmp_path / "tunnel.pid"
    env = {
        **os.environ,
        **FAKE_AWS,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        "TUNNEL_PID_FILE": str(pid_file),
        "APP_ENV": "staging",
        "AWS_REGION": REGION,
        "DB_HOST": "db.example.internal",
        "DB_PORT": "5432",
        "DB_NAME": "hospital",
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:master",  # pragma: allowlist secret
        "APP_DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app",  # pragma: allowlist secret
        "SEED": "0",
        "DATABASE_CA_BUNDLE_URL": ca_file.as_uri(),
        "TUNNEL_INSTANCE_ID": "i-0tunnel",
        "LOCAL_PORT": str(free_port()),
        "TUNNEL_WAIT_SECONDS": "2",
    }
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "infra/scripts/migrate.sh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert f"did not open 127.0.0.1:{env['LOCAL_PORT']} within 2s" in result.stderr
    assert "Starting session with SessionId: stand-in" in result.stderr, "the tunnel's own output is shown"
    assert "tunnel to the database is up" not in result.stderr
    assert elapsed < 30
    aws_pid, plugin_pid = (int(pid) for pid in pid_file.read_text().split())
    deadline = time.monotonic() + 5
    while (_alive(aws_pid) or _alive(plugin_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(aws_pid), "aws ssm start-session was left running"
    assert not _alive(plugin_pid), "the Session Manager plugin (aws's child) was left running"
