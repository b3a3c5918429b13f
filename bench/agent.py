"""Benchmark of the receptionist worker beside a bare worker measured in the same run.

The bare worker is the framework's floor: an AgentServer with the same four plugins (Deepgram, OpenAI,
Cartesia, Silero with its VAD prewarmed) and no tools, no database, no settings.
- cold start: process start to the first idle job process ready (prewarm done, VAD loaded), production mode;
- import time: importing the worker module and building its server;
- idle job memory: unique (USS) and resident (RSS) memory of one idle job process;
- per turn: one text-mode turn with a scripted model stand-in and one tool call (ours: the Receptionist's
  find_doctors on a real PostgreSQL; bare: a plain Agent whose tool returns a constant), and the database call
  alone. Our added time = ours - bare, to compare with 10 ms + the database call.

Goals: cold start <= 1.2x bare, idle job memory <= 1.2x bare, added per-turn p95 <= 10 ms + DB call p95.
`python -m bench.agent` runs it alone; `python -m bench` runs it with the others.
"""

# Imports of livekit, the plugins and our modules stay inside functions on purpose: each probe process must
# import only its own variant, and the import itself is one of the figures.
# ruff: noqa: PLC0415

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PROBE_TIMEOUT_SECONDS = 120
CALLS = 10
TURNS_PER_CALL = 20  # a realistic call length: the history each turn carries stays realistic too
PROBE_ROUNDS = 4
WARMUP_TURNS = 5
GOAL_RATIO = 1.2
GOAL_TURN_MS = 10.0
# Made-up values: the probe never connects anywhere.
PROBE_ENV = {
    "DATABASE_URL": "postgresql://bench@127.0.0.1:9/bench",
    "LIVEKIT_URL": "ws://127.0.0.1:9",
    "LIVEKIT_API_KEY": "bench-key",
    "LIVEKIT_API_SECRET": "bench-secret",
    "DEEPGRAM_API_KEY": "bench",
    "OPENAI_API_KEY": "bench",
    "CARTESIA_API_KEY": "bench",
}


# -- the bare worker (module level, so job processes can import it) -----------------------------------------


def _bare_prewarm(proc: Any) -> None:
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()


async def _bare_entrypoint(ctx: Any) -> None:
    from livekit.agents import Agent, AgentSession
    from livekit.plugins import cartesia, deepgram, openai

    await ctx.connect()
    session = AgentSession(
        stt=deepgram.STT(), llm=openai.LLM(model="gpt-4o-mini"), tts=cartesia.TTS(), vad=ctx.proc.userdata["vad"]
    )
    await session.start(agent=Agent(instructions="You are a receptionist."), room=ctx.room)


def _bare_server(**options: Any) -> Any:
    from livekit.agents import AgentServer
    from livekit.plugins import cartesia, deepgram, openai, silero  # noqa: F401 - the same plugins as ours

    server = AgentServer(setup_fnc=_bare_prewarm, **options)
    server.rtc_session(_bare_entrypoint, agent_name="bare")
    return server


def _our_server(**options: Any) -> Any:
    from agent.settings import load
    from agent.worker import build_server

    return build_server(load(), **options)


# -- probe: runs in a fresh process per variant -----------------------------------------------------------------


def _probe(variant: str) -> dict[str, float]:
    import psutil

    process_started = psutil.Process().create_time()
    import_started = time.perf_counter()
    build = _our_server if variant == "ours" else _bare_server
    server = build(port=0, num_idle_processes=1)
    import_seconds = time.perf_counter() - import_started
    figures: dict[str, float] = {"import_s": import_seconds}

    async def run() -> None:
        worker = asyncio.create_task(server.run(devmode=False, unregistered=True))
        deadline = time.monotonic() + PROBE_TIMEOUT_SECONDS
        # Ready = a prewarmed idle process waits in the pool (polled: the pool exists only once run() started).
        while (pool := getattr(server, "_proc_pool", None)) is None or pool._warmed_proc_queue.empty():
            if time.monotonic() > deadline or worker.done():
                raise RuntimeError("no idle job process became ready")
            await asyncio.sleep(0.005)
        figures["cold_start_s"] = time.time() - process_started
        await asyncio.sleep(1.0)  # let the idle process settle
        (proc,) = [proc for proc in pool.processes if proc.started]
        memory = psutil.Process(proc.pid).memory_full_info()
        figures["idle_job_uss_mb"] = memory.uss / 2**20
        figures["idle_job_rss_mb"] = memory.rss / 2**20
        await server.aclose()
        worker.cancel()

    asyncio.run(run())
    return figures


def _run_probe(variant: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.agent", "--probe", variant],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        env={**os.environ, **PROBE_ENV, "LIVEKIT_LOG_LEVEL": "WARNING"},
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"probe {variant} failed ({result.returncode}): {result.stderr[-2000:]}")
    return json.loads(lines[-1])


# -- per-turn time, in this process against a throwaway PostgreSQL ------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _alternating_turns(variants: dict[str, Any], tool_call: Any) -> dict[str, list[float]]:
    """Calls of TURNS_PER_CALL turns, taken in turn by each variant, so drift on a busy machine hits all alike.

    `variants` maps a name to an async factory of (agent, userdata) for one call."""
    from livekit.agents import AgentSession

    from devtools.testing.scripted import ScriptedLLM

    timings: dict[str, list[float]] = {name: [] for name in variants}
    for call in range(CALLS):
        async with AsyncExitStack() as stack:
            sessions = {}
            for name, factory in variants.items():
                agent, userdata = await factory()
                model = ScriptedLLM()
                session = await stack.enter_async_context(AgentSession(llm=model, userdata=userdata))
                await session.start(agent)
                sessions[name] = (session, model)
            for turn in range(TURNS_PER_CALL):
                for name, (session, model) in sessions.items():
                    model.add(tool_call, "Doctor Patel is a cardiologist.")
                    started = time.perf_counter()
                    await session.run(user_input="Do you have a cardiologist?")
                    if call > 0 or turn >= WARMUP_TURNS:
                        timings[name].append((time.perf_counter() - started) * 1000)
    return timings


async def _per_turn(database_url: str) -> dict[str, list[float]]:
    from livekit.agents import Agent, function_tool

    from agent.call import CallConfig, CallState
    from agent.hospital import PostgresHospital
    from agent.hospital.pool import create_pool
    from agent.receptionist import Receptionist
    from agent.settings import DatabaseSettings
    from devtools.testing.scripted import Call

    zone = ZoneInfo("America/New_York")
    config = CallConfig(hospital_name="Riverside General Hospital", zone=zone, emergency_number="911")

    class BareAgent(Agent):
        def __init__(self) -> None:
            super().__init__(instructions="You are a receptionist.")

        @function_tool
        async def find_doctors(self, specialty: str | None = None) -> str:
            """Find doctors.

            Args:
                specialty: a specialty
            """
            return "Aisha Patel, Cardiology."

    pool = await create_pool(DatabaseSettings(database_url=database_url))
    hospital = PostgresHospital(pool, slot_minutes=30, timezone=zone)
    try:
        states = []

        async def ours() -> tuple[Any, Any]:
            states.append(CallState(hospital=hospital, config=config))
            await states[-1].begin(room="bench", job_id="bench")  # events are recorded, as in a real call
            return Receptionist(config), states[-1]

        async def bare() -> tuple[Any, Any]:
            return BareAgent(), None

        call = Call("find_doctors", {"specialty": "Cardiology"})
        timings = await _alternating_turns({"ours": ours, "bare": bare}, call)
        for state in states:
            await state.finish()
        database = []
        for _ in range(CALLS * TURNS_PER_CALL):
            started = time.perf_counter()
            await hospital.find_doctors(specialty="Cardiology")
            database.append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return {**timings, "db": database}


def _database() -> tuple[Any, str]:
    from psycopg.conninfo import conninfo_to_dict

    from agent.db import migrations, seed
    from devtools.testing.postgres import PostgresServer, debian_bin_dir, pgserver_bin_dir

    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (apt-get install postgresql, or the pgserver wheel)")
    server = PostgresServer(root=Path(tempfile.mkdtemp(prefix="bench-agent-")), bin_dir=bin_dir).init().start()
    server.execute("CREATE DATABASE bench")
    params = conninfo_to_dict(server.dsn("bench"))
    migrations.apply(params)
    zone = "America/New_York"
    seed.seed(params, environment="dev", today=datetime.now(ZoneInfo(zone)).date(), timezone=zone)
    return server, server.dsn("bench")


# -- report -----------------------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "meets goal" if ok else "MISSES GOAL"


def main() -> int:
    print("== agent worker (bare worker measured in the same run) ==")
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "ours": []}
    for number in range(PROBE_ROUNDS):  # the order alternates, so neither variant always runs on a cold cache
        for variant in ("bare", "ours") if number % 2 == 0 else ("ours", "bare"):
            runs[variant].append(_run_probe(variant))
    bare, ours = ({key: statistics.median(r[key] for r in runs[v]) for key in runs[v][0]} for v in ("bare", "ours"))
    fastest = {v: min(r["cold_start_s"] for r in runs[v]) for v in runs}
    print(f"(medians of {PROBE_ROUNDS} rounds in alternating order, fresh processes, production mode, 1 idle process)")
    for label, key, unit in (
        ("import + build server", "import_s", "s"),
        ("cold start to ready (VAD loaded)", "cold_start_s", "s"),
        ("idle job process USS", "idle_job_uss_mb", "MB"),
        ("idle job process RSS", "idle_job_rss_mb", "MB"),
    ):
        ratio = ours[key] / bare[key]
        print(f"{label:34s} ours {ours[key]:8.2f} {unit:2s}  bare {bare[key]:8.2f} {unit:2s}  ratio {ratio:5.2f}")
    # On a shared machine the median and the fastest run disagree; the verdict takes the worse ratio.
    cold_ratio = max(ours["cold_start_s"] / bare["cold_start_s"], fastest["ours"] / fastest["bare"])
    print(f"fastest cold start: ours {fastest['ours']:.2f} s, bare {fastest['bare']:.2f} s")
    memory_ratio = ours["idle_job_uss_mb"] / bare["idle_job_uss_mb"]
    print(f"cold start ratio {cold_ratio:.2f} (goal <= {GOAL_RATIO}): {_verdict(cold_ratio <= GOAL_RATIO)}")
    print(f"idle job memory ratio {memory_ratio:.2f} (goal <= {GOAL_RATIO}): {_verdict(memory_ratio <= GOAL_RATIO)}")

    server, url = _database()
    try:
        turns = asyncio.run(_per_turn(url))
    finally:
        server.destroy()
    for name in ("ours", "bare", "db"):
        values = turns[name]
        print(
            f"per turn {name:4s} (n={len(values)}): p50 {statistics.median(values):7.2f} ms  "
            f"p95 {_percentile(values, 0.95):7.2f} ms"
        )
    added_p95 = _percentile(turns["ours"], 0.95) - _percentile(turns["bare"], 0.95)
    added_p50 = statistics.median(turns["ours"]) - statistics.median(turns["bare"])
    budget = GOAL_TURN_MS + _percentile(turns["db"], 0.95)
    print(
        f"our added time per turn: p50 {added_p50:.2f} ms, p95 {added_p95:.2f} ms "
        f"(goal <= {budget:.2f} ms = {GOAL_TURN_MS:.0f} ms + DB call p95): {_verdict(added_p95 <= budget)}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        print(json.dumps(_probe(sys.argv[2])))
        sys.exit(0)
    sys.exit(main())
