"""The worker's wiring: settings into the pipeline, the turn detector only when its files are present,
prewarm, the server's agent name, and the `python -m agent` command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from livekit import rtc
from livekit.agents import JobExecutorType, JobProcess

from agent import worker
from agent.hospital import DatabaseUnavailable
from agent.settings import load

SETTINGS = {
    "database_url": "postgresql://app@127.0.0.1:9/hospital",
    "livekit_url": "ws://127.0.0.1:9",
    "livekit_api_key": "lk-test-key",
    "livekit_api_secret": "lk-test-secret",
    "deepgram_api_key": "dg-test",
    "openai_api_key": "sk-test",
    "cartesia_api_key": "ca-test",
}
REPO = Path(__file__).resolve().parents[2]


def test_turn_detector_names_match_the_installed_plugin() -> None:
    # Read, not imported: importing the plugin registers inference runners in this process.
    import importlib.util

    spec = importlib.util.find_spec("livekit.plugins")
    models = Path(next(iter(spec.submodule_search_locations))) / "turn_detector" / "models.py"
    source = models.read_text()
    assert f'HG_MODEL = "{worker.TURN_DETECTOR_REPO}"' in source
    assert set(re.findall(r'"(v[0-9][^"]*)"', source)) == set(worker.TURN_DETECTOR_REVISIONS)
    assert 'ONNX_FILENAME = "model_q8.onnx"' in source


def _fake_hub_cache(root: Path, files: tuple[str, ...]) -> None:
    """The Hugging Face cache layout: refs/<revision> names a commit, snapshots/<commit>/ holds the files."""
    repo = root / "models--livekit--turn-detector"
    for number, revision in enumerate(worker.TURN_DETECTOR_REVISIONS):
        commit = f"{number:040d}"
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / revision).write_text(commit)
        for name in files:
            path = repo / "snapshots" / commit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")


def test_turn_detector_available_only_with_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    assert worker.turn_detector_available() is False
    _fake_hub_cache(tmp_path, worker.TURN_DETECTOR_FILES[:-1])
    assert worker.turn_detector_available() is False
    _fake_hub_cache(tmp_path, worker.TURN_DETECTOR_FILES)
    assert worker.turn_detector_available() is True


def test_pipeline_follows_the_settings() -> None:
    from livekit.plugins import silero

    settings = load(
        **SETTINGS,
        stt_model="nova-2",
        stt_language="es",
        llm_model="gpt-4o",
        tts_model="sonic-turbo",
        stt_fallback_model="whisper-1",
        llm_fallback_model="gpt-4.1",
        tts_fallback_model="tts-1",
        tts_fallback_voice="sage",
        provider_attempt_timeout=2.5,
        endpointing_min_delay=0.3,
        endpointing_max_delay=2.0,
    )
    session = worker.build_session(settings, vad=silero.VAD.load(), state=None, detector=None)
    # Each stage is a FallbackAdapter over the primary and its fallback, in that order.
    speech_to_text = [getattr(s, "wrapped_stt", s) for s in session.stt._stt_instances]
    assert [s.model for s in speech_to_text] == ["nova-2", "whisper-1"]
    assert speech_to_text[1]._opts.languages == ["es"]
    assert [m.model for m in session.llm._llm_instances] == ["gpt-4o", "gpt-4.1"]
    assert [t.model for t in session.tts._tts_instances] == ["sonic-turbo", "tts-1"]
    assert session.tts._tts_instances[1]._opts.voice == "sage"
    assert session.llm._attempt_timeout == 2.5
    assert session.stt._attempt_timeout == 2.5
    assert session.conn_options.tts_conn_options.timeout == 2.5
    options = worker.turn_handling(settings, detector=None)
    assert options["turn_detection"] == "vad"
    assert options["endpointing"] == {"min_delay": 0.3, "max_delay": 2.0}
    assert options["preemptive_generation"]["enabled"] is True
    detector = object()
    assert worker.turn_handling(settings, detector=detector)["turn_detection"] is detector


def test_prewarm_loads_settings_and_vad_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name.upper(), value)
    proc = JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None)
    worker.prewarm(proc)
    assert proc.userdata["settings"].hospital_name == "Riverside General Hospital"
    assert proc.userdata["vad"].capabilities is not None


def test_server_registers_under_the_configured_agent_name() -> None:
    server = worker.build_server(load(**SETTINGS, agent_name="front-desk-test"))
    assert server._agent_name == "front-desk-test"
    assert server.setup_fnc is worker.prewarm


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("LIVEKIT_", "DATABASE_"))}
    clean.update({"HOME": os.environ.get("HOME", "/root"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd="/",
        env={**clean, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_start_without_configuration_exits_2_naming_what_is_missing() -> None:
    result = run_cli("start")
    assert result.returncode == 2
    assert "LIVEKIT_URL: missing" in result.stderr
    assert "DATABASE_URL: missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_start_with_unreachable_services_exits_1_before_serving() -> None:
    env = {name.upper(): value for name, value in SETTINGS.items()}
    env.update(
        {
            "DEEPGRAM_BASE_URL": "http://127.0.0.1:9",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "CARTESIA_BASE_URL": "http://127.0.0.1:9",
        }
    )
    result = run_cli("start", env=env)
    assert result.returncode == 1
    assert "start-up checks failed" in result.stderr
    assert "sk-test" not in result.stdout + result.stderr  # secrets never printed


def test_cli_usage_and_unknown_commands() -> None:
    assert run_cli().returncode == 2
    unknown = run_cli("serve")
    assert unknown.returncode == 2
    assert "unknown command 'serve'" in unknown.stderr
    assert "console [--text]" in run_cli("--help").stdout
    for command, usage in (("token", "--room ROOM"), ("check", "--env-file")):  # handed to agent.token, agent.check
        delegated = run_cli(command, "--help")
        assert delegated.returncode == 0
        assert usage in delegated.stdout


@pytest.mark.parametrize("database", ["seeded", "unreachable"])
async def test_entrypoint_starts_the_receptionist_even_without_the_database(
    database: str, hospital_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from livekit.agents import AgentSession
    from livekit.agents.testing import fake_job_context
    from livekit.plugins import silero

    from agent.receptionist import Receptionist

    url = hospital_url if database == "seeded" else "postgresql://app@127.0.0.1:9/hospital"
    settings = load(**{**SETTINGS, "database_url": url, "database_timeout_seconds": 1})
    started: list[tuple[AgentSession, object]] = []
    options: list[dict[str, object]] = []

    async def fake_start(session: AgentSession, agent: object, **kwargs: object) -> None:
        started.append((session, agent))  # no room to join here
        options.append(kwargs)

    monkeypatch.setattr(AgentSession, "start", fake_start)
    with fake_job_context() as ctx:
        web_caller = SimpleNamespace(identity="web-caller", kind=rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD)

        async def caller_joined(**_: object) -> SimpleNamespace:
            return web_caller

        monkeypatch.setattr(ctx, "wait_for_participant", caller_joined)  # a fake job has no room to join
        ctx.proc.userdata.update(settings=settings, vad=silero.VAD.load())
        await worker.entrypoint(ctx)
        ((session, agent),) = started
        assert isinstance(agent, Receptionist)
        assert options[0]["record"] is False, "nothing of a call is recorded unless SESSION_RECORDING says so"
        state = session.userdata
        if database == "seeded":
            assert await state.hospital.list_departments()
        else:  # the call is answered; its tools apologise until the database is back
            with pytest.raises(DatabaseUnavailable):
                await state.hospital.list_departments()
        for callback in ctx._shutdown_callbacks:
            await callback("test")


def test_recording_is_off_unless_enabled_and_then_redacted() -> None:
    from livekit.agents.voice.agent_session import _resolve_recording_options

    assert worker.recording(load(**SETTINGS)) is False
    assert not any(_resolve_recording_options(worker.recording(load(**SETTINGS))).values())
    redacted = _resolve_recording_options(worker.recording(load(**SETTINGS, session_recording="redacted")))
    assert redacted["redaction"] is True
    assert redacted["audio"], "recording on means LiveKit keeps the audio"
    assert redacted["transcript"], "recording on means LiveKit keeps the transcript"


def test_an_invalid_recording_setting_is_refused() -> None:
    from agent.settings import SettingsError

    with pytest.raises(SettingsError, match="SESSION_RECORDING: Input should be 'off' or 'redacted'"):
        load(**SETTINGS, session_recording="on")
