#!/usr/bin/env bash
# Apply the migrations, keep the agent's own role and grants current, verify the schema, and load seed data
# (dev, staging) against the stack's database.
# Environment (ids and names only, no secret): APP_ENV AWS_REGION DB_HOST DB_PORT DB_NAME DB_SECRET_ARN
# APP_DB_SECRET_ARN SEED
# DATABASE_CA_BUNDLE_URL, and TUNNEL_INSTANCE_ID in private-link mode (SSM port-forward through that host;
# TUNNEL_WAIT_SECONDS, 60 by default, for its local port to open); CONSOLE_DB_SECRET_ARN where the console runs.
# The password is read from Secrets Manager by infra.scripts.database_url, never printed.
set -euo pipefail
: "${APP_ENV:?}" "${AWS_REGION:?}" "${DB_HOST:?}" "${DB_PORT:?}" "${DB_NAME:?}" "${DB_SECRET_ARN:?}"
: "${APP_DB_SECRET_ARN:?}" "${SEED:?}" "${DATABASE_CA_BUNDLE_URL:?}"
PYTHON="${PYTHON:-.venv/bin/python}"
LOCAL_PORT="${LOCAL_PORT:-15432}"
TUNNEL_WAIT_SECONDS="${TUNNEL_WAIT_SECONDS:-60}"

workdir="$(mktemp -d)"
tunnel_pid=""
cleanup() {
    if [[ -n "$tunnel_pid" ]]; then
        # The tunnel runs in its own process group: `aws` and the Session Manager plugin it starts stop together.
        kill -TERM -- "-$tunnel_pid" 2>/dev/null || true
        wait "$tunnel_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

curl -fsS --retry 3 "$DATABASE_CA_BUNDLE_URL" -o "$workdir/rds-ca.pem"
host="$DB_HOST"
port="$DB_PORT"
if [[ -n "${TUNNEL_INSTANCE_ID:-}" ]]; then
    set -m # job control on: the tunnel gets a process group of its own, whose id is its pid
    aws ssm start-session --region "$AWS_REGION" --target "$TUNNEL_INSTANCE_ID" \
        --document-name AWS-StartPortForwardingSessionToRemoteHost \
        --parameters "host=$DB_HOST,portNumber=$DB_PORT,localPortNumber=$LOCAL_PORT" >"$workdir/tunnel.log" 2>&1 &
    tunnel_pid=$!
    set +m
    waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$LOCAL_PORT") 2>/dev/null; do
        if ! kill -0 "$tunnel_pid" 2>/dev/null; then
            echo "migrate: the SSM tunnel exited:" >&2; cat "$workdir/tunnel.log" >&2; exit 1
        fi
        if ((waited >= TUNNEL_WAIT_SECONDS)); then
            echo "migrate: the SSM tunnel did not open 127.0.0.1:$LOCAL_PORT within ${TUNNEL_WAIT_SECONDS}s;" \
                "stopping it. Its output:" >&2
            cat "$workdir/tunnel.log" >&2
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    host=127.0.0.1
    port="$LOCAL_PORT"
    echo "migrate: SSM tunnel to the database is up" >&2
fi

DATABASE_URL="$("$PYTHON" -m infra.scripts.database_url --secret-arn "$DB_SECRET_ARN" --region "$AWS_REGION" \
    --host "$host" --port "$port" --dbname "$DB_NAME")"
# Through the tunnel the URL says 127.0.0.1; TLS still checks the certificate against the database's own name.
export DATABASE_URL APP_ENV DATABASE_CA_FILE="$workdir/rds-ca.pem" DATABASE_TLS_SERVER_NAME="$DB_HOST"

"$PYTHON" -m agent.db apply
"$PYTHON" -m infra.scripts.app_role --secret-arn "$APP_DB_SECRET_ARN" --region "$AWS_REGION"
if [[ -n "${CONSOLE_DB_SECRET_ARN:-}" ]]; then
    "$PYTHON" -m infra.scripts.console_role --secret-arn "$CONSOLE_DB_SECRET_ARN" --region "$AWS_REGION"
fi
"$PYTHON" -m agent.db verify
if [[ "$SEED" == "1" ]]; then
    "$PYTHON" -m agent.db seed
fi
echo "migrate: done" >&2
