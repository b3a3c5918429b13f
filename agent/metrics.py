"""CloudWatch metrics for the alarms and the dashboard, published from a background thread.

Recording a value appends to an in-memory buffer under a lock (microseconds, never I/O), so the audio path
never waits on AWS. A daemon thread sends the buffer every `flush_seconds` as one PutMetricData call per
1000 data points, each metric as a Values/Counts distribution with the dimensions Environment and Agent.
If AWS is unreachable the batch is dropped, the first failure is logged once, and the call goes on.

The names and units below are a contract with the alarms and dashboard in `infra/` (docs/latency.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from agent.settings import Settings

logger = logging.getLogger("agent.metrics")

METRIC_UNITS: dict[str, str] = {
    "Heartbeat": "Count",
    "Errors": "Count",
    "Calls": "Count",
    "Turns": "Count",
    "TurnE2ELatency": "Milliseconds",
    "EndOfTurnDelay": "Milliseconds",
    "TranscriptionDelay": "Milliseconds",
    "LLMTimeToFirstToken": "Milliseconds",
    "TTSTimeToFirstByte": "Milliseconds",
    "ToolLatency": "Milliseconds",
    "DatabaseLatency": "Milliseconds",
    "AgentProcessingLatency": "Milliseconds",
    "PoolConnectionsInUse": "Count",
    "PoolUsePercent": "Percent",
    "ProviderFallbacks": "Count",
    "ProviderRecoveries": "Count",
    "SpeechOutages": "Count",
}

FLUSH_SECONDS = 30.0
HEARTBEAT_SECONDS = 60.0
# PutMetricData limits: 1000 data points per request, 150 distinct values per data point.
MAX_DATUMS_PER_REQUEST = 1000
MAX_VALUES_PER_DATUM = 150
# A buffer that can't be sent is dropped beyond this many values per metric, so memory stays bounded.
MAX_BUFFERED_VALUES = 10_000


def cloudwatch_client(settings: Settings) -> Any:
    """A CloudWatch client with short timeouts; None when publishing is off (no METRICS_AWS_REGION)."""
    if not settings.metrics_aws_region:
        return None
    credentials = {}
    if settings.metrics_aws_access_key_id and settings.metrics_aws_secret_access_key:
        credentials = {
            "aws_access_key_id": settings.metrics_aws_access_key_id.get_secret_value(),
            "aws_secret_access_key": settings.metrics_aws_secret_access_key.get_secret_value(),
        }
    return boto3.client(
        "cloudwatch",
        region_name=settings.metrics_aws_region,
        endpoint_url=settings.metrics_endpoint_url,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
        **credentials,
    )


class MetricsPublisher:
    """Buffers metric values and sends them to CloudWatch from a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: Any = None,
        flush_seconds: float = FLUSH_SECONDS,
        heartbeat_seconds: float | None = None,
        healthy: Callable[[], bool] | None = None,
    ) -> None:
        """heartbeat_seconds: send Heartbeat that often, when `healthy()` says so (always without it)."""
        self.namespace = settings.metrics_namespace
        self.dimensions = [
            {"Name": "Environment", "Value": str(settings.app_env)},
            {"Name": "Agent", "Value": settings.agent_name},
        ]
        self._client = client if client is not None else cloudwatch_client(settings)
        self._flush_seconds = flush_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._healthy = healthy
        self._lock = threading.Lock()
        self._buffer: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.sent_requests = 0

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def record(self, name: str, value: float) -> None:
        """Queue one value; never blocks on I/O. Unknown names are a programming error."""
        if name not in METRIC_UNITS:
            raise ValueError(f"unknown metric {name!r}")
        if not self.enabled:
            return
        with self._lock:
            values = self._buffer.setdefault(name, [])
            if len(values) < MAX_BUFFERED_VALUES:
                values.append(float(value))

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="metrics-publisher", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and send what is buffered (bounded by the client's timeouts)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.flush()

    def _run(self) -> None:
        next_heartbeat = time.monotonic()
        next_flush = time.monotonic() + self._flush_seconds
        while True:
            now = time.monotonic()
            if self._heartbeat_seconds is not None and now >= next_heartbeat:
                if self._healthy is None or self._healthy():
                    self.record("Heartbeat", 1)
                # A fixed schedule, not now + interval: drift would one day leave a wall-clock minute empty.
                next_heartbeat = max(next_heartbeat + self._heartbeat_seconds, now)
            if now >= next_flush:
                self.flush()
                next_flush = max(next_flush + self._flush_seconds, now)
            wake_at = min(next_flush, next_heartbeat if self._heartbeat_seconds is not None else next_flush)
            if self._stop.wait(max(0.0, wake_at - time.monotonic())):
                break
        self.flush()

    def flush(self) -> None:
        """Send everything buffered; on failure drop it and log (once per outage)."""
        with self._lock:
            buffer, self._buffer = self._buffer, {}
        data = self._metric_data(buffer)
        if not data:
            return
        try:
            for start in range(0, len(data), MAX_DATUMS_PER_REQUEST):
                self._client.put_metric_data(
                    Namespace=self.namespace, MetricData=data[start : start + MAX_DATUMS_PER_REQUEST]
                )
                self.sent_requests += 1
        except Exception as error:  # metrics must never take a call down
            if not self._failing:
                logger.warning(
                    "metrics publishing failed; values are dropped until it recovers",
                    extra={"event": "metrics_publish_failed", "error_type": type(error).__name__},
                )
            self._failing = True
            return
        if self._failing:
            logger.info("metrics publishing recovered", extra={"event": "metrics_publish_recovered"})
            self._failing = False

    def _metric_data(self, buffer: dict[str, list[float]]) -> list[dict[str, Any]]:
        timestamp = datetime.now(UTC)
        data = []
        for name, values in buffer.items():
            # Milliseconds to 0.1 ms: enough for every alarm, and it folds repeats into Counts.
            counts = sorted(Counter(round(value, 1) for value in values).items())
            for start in range(0, len(counts), MAX_VALUES_PER_DATUM):
                chunk = counts[start : start + MAX_VALUES_PER_DATUM]
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": self.dimensions,
                        "Timestamp": timestamp,
                        "Unit": METRIC_UNITS[name],
                        "Values": [value for value, _ in chunk],
                        "Counts": [float(count) for _, count in chunk],
                    }
                )
        return data
