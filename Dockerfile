# The receptionist worker image. LiveKit Cloud builds it on `lk agent deploy`; Fly.io, Render and Railway
# build the same file. Layers run from least to most often changed, so a code change rebuilds only the
# last two layers and reuses the dependencies and model files.
FROM python:3.11.14-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HOME=/home/agent/.cache/huggingface

# A fixed, unprivileged user; it owns only its home (the model cache), never the code.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin agent

WORKDIR /app

# Dependencies: their own layer, rebuilt only when the pins change.
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt -r requirements.txt

# Model files (the turn detector's weights from the model hub; Silero ships in its wheel). LiveKit's own
# command discovers the installed plugins, so it needs no project source and this layer survives code changes.
USER 10001
RUN python -m livekit.agents download-files
# From here on the model hub is never asked: the worker loads the files above or runs without them.
ENV HF_HUB_OFFLINE=1
USER 0

# The source last, owned by root and read-only to the worker, compiled once so a cold start skips it.
COPY agent/ agent/
COPY migrations/ migrations/
RUN python -m compileall -q agent

USER 10001
# The worker's health endpoint (GET / answers OK, or 503 once it lost LiveKit).
EXPOSE 8081
CMD ["python", "-m", "agent", "start"]
