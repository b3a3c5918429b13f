#!/usr/bin/env bash
# Deploy the agent to LiveKit Cloud Agents with `lk agent deploy`. Its secrets go from Secrets Manager into a
# private temporary --secrets-file that is removed on exit; the LiveKit CLI authenticates through its
# environment. Nothing secret is on a command line or in the output.
# Environment (no secret): AWS_REGION LIVEKIT_URL SECRET_ARNS APP_DB_SECRET_ARN DATABASE_HOST DATABASE_PORT DB_NAME
# AGENT_SETTINGS.
set -euo pipefail
: "${AWS_REGION:?}" "${LIVEKIT_URL:?}" "${SECRET_ARNS:?}" "${APP_DB_SECRET_ARN:?}" "${DATABASE_HOST:?}"
: "${DATABASE_PORT:?}" "${DB_NAME:?}"
PYTHON="${PYTHON:-.venv/bin/python}"

umask 077
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

"$PYTHON" -m infra.scripts.agent_secrets --region "$AWS_REGION" \
    --secrets-file "$workdir/agent.env" --cli-env "$workdir/cli.env"
set -a
# shellcheck disable=SC1091
. "$workdir/cli.env"
set +a
export LIVEKIT_URL

lk agent deploy --secrets-file "$workdir/agent.env"
echo "deploy: agent deployed" >&2
