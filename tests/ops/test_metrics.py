"""CloudWatch metrics, checked against moto's CloudWatch in server mode on loopback (a stand-in for AWS)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from agent.metrics import METRIC_UNITS, MetricsPublisher
from agent.settings import Settings, load
from tests.ops.conftest import FAKE_SECRETS
from tests.ops.standins import free_port

REGION = "eu-central-1"
DIMENSIONS = [{"Name": "Environment", "Value": "dev"}, {"Name": "Agent", "Value": "front-desk"}]


def metrics_settings(env: pytest.MonkeyPatch, endpoint: str | None) -> Settings:
    values = {
        **FAKE_SECRETS,
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "DATABASE_URL": "postgresql://app@127.0.0.1/hospital",
        "AGENT_NAME": "front-desk",
        # A fresh namespace per test: moto keeps data for the server's life.
        "METRICS_NAMESPACE": f"Test/{uuid.uuid4().hex[:8]}",
        "METRICS_AWS_ACCESS_KEY_ID": "AKIAFAKEMETRICS00000",
        "METRICS_AWS_SECRET_ACCESS_KEY": "fake-secret-for-moto",
    }
    if endpoint:
        values |= {"METRICS_AWS_REGION": REGION, "METRICS_ENDPOINT_URL": endpoint}
    for name, value in values.items():
        env.setenv(name, value)
    return load(Settings)


def cloudwatch(moto_url: str):
    return boto3.client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="AKIAFAKEMETRICS00000",
        aws_secret_access_key="fake-secret-for-moto",
    )


def statistics(moto_url: str, namespace: str, name: str, unit: str | None = None) -> dict:
    """Sum and SampleCount of one metric over the last hour (empty when nothing arrived)."""
    now = datetime.now(UTC)
    arguments = {"Unit": unit} if unit else {}
    points = cloudwatch(moto_url).get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=DIMENSIONS,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum"],
        **arguments,
    )["Datapoints"]
    if not points:
        return {}
    return {key: sum(point[key] for point in points) for key in ("Sum", "SampleCount")} | {
        "Maximum": max(point["Maximum"] for point in points)
    }


def test_every_metric_arrives_with_its_name_unit_and_dimensions(clean_env, moto_url):
    settings = metrics_settings(clean_env, moto_url)
    publisher = MetricsPublisher(settings)
    for index, name in enumerate(METRIC_UNITS):
        for value in (index + 1.0, index + 1.0, index + 2.5):
            publisher.record(name, value)
    publisher.flush()
    assert publisher.sent_requests == 1

    listed = cloudwatch(moto_url).list_metrics(Namespace=settings.metrics_namespace)["Metrics"]
    assert {metric["MetricName"] for metric in listed} == set(METRIC_UNITS)
    for metric in listed:
        assert sorted(metric["Dimensions"], key=lambda d: d["Name"]) == sorted(DIMENSIONS, key=lambda d: d["Name"])
    for index, (name, unit) in enumerate(METRIC_UNITS.items()):
        stats = statistics(moto_url, settings.metrics_namespace, name, unit)
        assert stats["SampleCount"] == 3, name
        assert stats["Sum"] == pytest.approx(3 * index + 4.5), name
        wrong_unit = "Seconds" if unit != "Seconds" else "Count"
        assert statistics(moto_url, settings.metrics_namespace, name, wrong_unit) == {}, name


def test_contract_names_and_units():
    # The alarms and dashboard in infra/ are built on exactly these (docs/latency.md).
    milliseconds = [
        "TurnE2ELatency",
        "EndOfTurnDelay",
        "TranscriptionDelay",
        "LLMTimeToFirstToken",
        "TTSTimeToFirstByte",
        "ToolLatency",
        "DatabaseLatency",
        "AgentProcessingLatency",
    ]
    counts = ["Heartbeat", "Errors", "PoolConnectionsInUse", "Turns", "Calls"]
    counts += ["ProviderFallbacks", "ProviderRecoveries", "SpeechOutages"]
    assert {
        **dict.fromkeys(milliseconds, "Milliseconds"),
        **dict.fromkeys(counts, "Count"),
        "PoolUsePercent": "Percent",
    } == METRIC_UNITS


def test_many_values_are_batched_within_put_metric_data_limits(clean_env, moto_url):
    settings = metrics_settings(clean_env, moto_url)
    publisher = MetricsPublisher(settings)
    for value in range(400):  # 400 distinct values: more than the 150 one data point may carry
        publisher.record("ToolLatency", value)
    publisher.flush()
    stats = statistics(moto_url, settings.metrics_namespace, "ToolLatency", "Milliseconds")
    assert stats["SampleCount"] == 400
    assert stats["Maximum"] == 399


def test_heartbeat_comes_from_the_background_thread(clean_env, moto_url):
    settings = metrics_settings(clean_env, moto_url)
    publisher = MetricsPublisher(settings, flush_seconds=0.3, heartbeat_seconds=0.2)
    publisher.start()
    time.sleep(1.1)
    publisher.close()
    stats = statistics(moto_url, settings.metrics_namespace, "Heartbeat", "Count")
    assert 5 <= stats["SampleCount"] <= 7
    assert publisher.sent_requests >= 3  # sent while running, not only at close


class SlowClient:
    """A stand-in CloudWatch client whose every call takes a second."""

    def __init__(self) -> None:
        self.calls = 0
        self.in_call = threading.Event()

    def put_metric_data(self, **_: object) -> None:
        self.calls += 1
        self.in_call.set()
        time.sleep(1.0)


def test_recording_never_waits_for_aws(clean_env):
    settings = metrics_settings(clean_env, "http://127.0.0.1:9")
    client = SlowClient()
    publisher = MetricsPublisher(settings, client=client, flush_seconds=0.05)
    publisher.record("Calls", 1)
    publisher.start()
    assert client.in_call.wait(2)
    started = time.perf_counter()
    for _ in range(1000):
        publisher.record("ToolLatency", 12.5)
    assert time.perf_counter() - started < 0.1  # while a PutMetricData call is in flight
    publisher.close()
    assert client.calls == 2


def test_a_publishing_failure_is_logged_once_and_nothing_raises(clean_env, caplog):
    settings = metrics_settings(clean_env, f"http://127.0.0.1:{free_port()}")
    publisher = MetricsPublisher(settings)
    with caplog.at_level(logging.INFO, logger="agent.metrics"):
        for _ in range(3):
            publisher.record("Calls", 1)
            publisher.flush()
    failures = [record for record in caplog.records if getattr(record, "event", "") == "metrics_publish_failed"]
    assert len(failures) == 1
    assert failures[0].levelname == "WARNING"
    assert publisher.sent_requests == 0


def test_publishing_is_off_without_a_region(clean_env):
    publisher = MetricsPublisher(metrics_settings(clean_env, None))
    assert not publisher.enabled
    publisher.record("Calls", 1)
    publisher.start()
    publisher.close()
    assert publisher.sent_requests == 0
    with pytest.raises(ValueError, match="unknown metric"):
        publisher.record("calls", 1)
