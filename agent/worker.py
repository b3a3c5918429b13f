"""The LiveKit worker: one AgentServer, Silero VAD loaded once per process, a database pool per job process.

Pipeline: speech to text, the model and text to speech each behind a fallback (agent/providers.py), Silero VAD,
and the LiveKit turn detector when its model
files were downloaded (`python -m agent download-files`, done at image build); without them, VAD
endpointing. Importing the turn-detector plugin registers inference runners that fail without their files,
so it is imported only when the files are in the local model cache.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from livekit import api, rtc
from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, RecordingOptions, TurnHandlingOptions
from livekit.plugins import silero

from agent.call import CallConfig, CallState, TransferFailed
from agent.caller_id import caller_id
from agent.hospital import PostgresHospital
from agent.hospital.pool import create_pool
from agent.logs import take_over_stdout
from agent.noise import room_options
from agent.providers import Providers, build_providers, connect_options
from agent.receptionist import Receptionist
from agent.settings import Settings, load
from agent.speech_outage import SpeechOutage
from agent.telemetry import Telemetry

logger = logging.getLogger("agent.worker")

# The turn detector's model files, as livekit-plugins-turn-detector 1.8.9 names them (models.py there;
# tests/agent/test_worker.py keeps these in step with the installed plugin).
TURN_DETECTOR_REPO = "livekit/turn-detector"
TURN_DETECTOR_REVISIONS = ("v1.2.2-en", "v0.4.1-intl")
TURN_DETECTOR_FILES = ("onnx/model_q8.onnx", "languages.json", "tokenizer.json")


def turn_detector_available() -> bool:
    """True when every turn-detector file is in the local Hugging Face cache (a file lookup, no network)."""
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415 - only needed here

    return all(
        isinstance(try_to_load_from_cache(TURN_DETECTOR_REPO, filename, revision=revision), str)
        for revision in TURN_DETECTOR_REVISIONS
        for filename in TURN_DETECTOR_FILES
    )


def call_config(settings: Settings) -> CallConfig:
    return CallConfig(
        hospital_name=settings.hospital_name,
        zone=ZoneInfo(settings.hospital_timezone),
        emergency_number=settings.emergency_number,
        transfer_number=settings.human_transfer_number,
        front_desk=settings.front_desk_hours(),
    )


def turn_handling(settings: Settings, *, detector: Any | None) -> TurnHandlingOptions:
    options: TurnHandlingOptions = {
        "endpointing": {"min_delay": settings.endpointing_min_delay, "max_delay": settings.endpointing_max_delay},
        "preemptive_generation": {"enabled": True},
    }
    options["turn_detection"] = detector if detector is not None else "vad"
    return options


def recording(settings: Settings) -> bool | RecordingOptions:
    """What LiveKit Cloud records of this call. Always explicit: left unset, the session would follow the
    project's dashboard setting and could upload patient audio and transcripts nobody decided to keep."""
    if settings.session_recording == "redacted":
        return RecordingOptions(redaction=True)
    return False


def build_session(
    settings: Settings, *, vad: Any, state: CallState, detector: Any | None, providers: Providers | None = None
) -> AgentSession[CallState]:
    providers = providers or build_providers(settings, vad=vad)
    return AgentSession[CallState](
        userdata=state,
        stt=providers.stt,
        llm=providers.llm,
        tts=providers.tts,
        vad=vad,
        turn_handling=turn_handling(settings, detector=detector),
        conn_options=connect_options(settings),
    )


def prewarm(proc: JobProcess) -> None:
    """Runs once per process before any job: settings and the VAD model."""
    proc.userdata["settings"] = load()
    proc.userdata["vad"] = silero.VAD.load()


def _phone_caller(caller: rtc.RemoteParticipant) -> rtc.RemoteParticipant | None:
    """The caller if they came in by phone (a SIP participant); web callers have no line to transfer or call back."""
    return caller if caller.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP else None


def _sip_transfer(ctx: JobContext, phone_caller: rtc.RemoteParticipant | None):
    """A transfer for phone (SIP) callers; web callers have nobody to transfer."""
    if phone_caller is None:
        return None

    async def transfer(number: str) -> None:
        try:
            await ctx.api.sip.transfer_sip_participant(
                api.TransferSIPParticipantRequest(
                    room_name=ctx.room.name, participant_identity=phone_caller.identity, transfer_to=f"tel:{number}"
                )
            )
        except api.ServerError as error:  # the server's answer: e.g. "SIP transfer failed: 486 Busy Here"
            raise TransferFailed(str(error)) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransferFailed(f"LiveKit unreachable: {type(error).__name__}") from error

    return transfer


async def _open_pool(settings: Settings, **options: Any) -> Any:
    try:
        return await create_pool(settings, **options)
    except Exception as error:
        # The call must still be answered: a lazy pool connects on first use, and each tool then apologises
        # and offers a callback until the database is back.
        logger.warning("database unreachable at call start", extra={"error": type(error).__name__})
        return await create_pool(settings, **{**options, "min_size": 0})


def _attach_telemetry(
    telemetry: Telemetry, *, ctx: JobContext, session: AgentSession, pool: Any, state: CallState
) -> None:
    telemetry.observe(session, room=ctx.room.name, job_id=ctx.job.id)
    telemetry.watch_pool(pool)
    state.on_tool_finished = lambda name, outcome, ms: telemetry.tool_finished(
        name=name, outcome=outcome, duration_ms=ms
    )


async def entrypoint(ctx: JobContext) -> None:
    settings: Settings = ctx.proc.userdata["settings"]
    # Telemetry first, so the pool's connections time their queries.
    telemetry = Telemetry(settings)
    await telemetry.start()
    pool = await _open_pool(settings, init=telemetry.instrument_connection)
    hospital = PostgresHospital(pool, slot_minutes=settings.slot_minutes, timezone=ZoneInfo(settings.hospital_timezone))
    detector = None
    if TURN_DETECTOR_READY:
        from livekit.plugins.turn_detector.multilingual import MultilingualModel  # noqa: PLC0415

        detector = MultilingualModel()

    await ctx.connect()
    # The job can start before the caller is in the room (a phone call's SIP leg may still be joining): wait for
    # them, so the call's transfer and caller ID see the phone caller rather than an empty room.
    phone_caller = _phone_caller(await ctx.wait_for_participant())
    config = call_config(settings)
    state = CallState(
        hospital=hospital,
        config=config,
        transfer=_sip_transfer(ctx, phone_caller),
        caller_id=caller_id(phone_caller),
    )
    await state.begin(room=ctx.room.name, job_id=ctx.job.id)
    providers = build_providers(settings, vad=ctx.proc.userdata["vad"])
    session = build_session(settings, vad=ctx.proc.userdata["vad"], state=state, detector=detector, providers=providers)
    _attach_telemetry(telemetry, ctx=ctx, session=session, pool=pool, state=state)
    providers.watch(telemetry.publisher.record)
    SpeechOutage(session, state=state, record=telemetry.publisher.record).watch()

    async def close_call(_reason: str = "") -> None:
        await state.finish()
        await telemetry.aclose()
        with contextlib.suppress(Exception):
            await pool.close()

    ctx.add_shutdown_callback(close_call)
    await session.start(
        agent=Receptionist(config), room=ctx.room, room_options=room_options(settings), record=recording(settings)
    )


TURN_DETECTOR_READY = turn_detector_available()


def build_server(settings: Settings, **options: Any) -> AgentServer:
    """Our AgentServer; `options` go to AgentServer (the benchmark sets the port and idle processes)."""
    # Preloaded in the forkserver, our modules are shared by every job process instead of imported by each.
    defaults = {"job_memory_warn_mb": 500, "preload_modules": [__name__]}
    server = AgentServer(setup_fnc=prewarm, **{**defaults, **options})
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    # LiveKit's CLI adds its own console handler once it starts; ours already writes every line, as JSON.
    server.on("worker_started", take_over_stdout)
    if TURN_DETECTOR_READY:
        importlib.import_module("livekit.plugins.turn_detector")
    else:
        logger.info("turn detector model files not downloaded; using VAD endpointing")
    return server
