"""`python -m agent console --text` on a machine without PortAudio, with only an OpenAI key (and the database):
the real command, the real OpenAI plugin, against the loopback Chat Completions stand-in."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.test_openai_stand_in import stand_in  # noqa: F401 - the fixture

PROVIDERS = ("LIVEKIT_", "DEEPGRAM_", "CARTESIA_", "OPENAI_", "DATABASE_", "APP_ENV")
ROOT = Path(__file__).resolve().parents[2]


def _portaudio_present() -> bool:
    found = subprocess.run([sys.executable, "-c", "import sounddevice"], capture_output=True, check=False)
    return found.returncode == 0


def _environment(**extra: str) -> dict[str, str]:
    # PYTHONPATH: this checkout's code, even when the virtualenv has another checkout installed.
    return {**{k: v for k, v in os.environ.items() if not k.startswith(PROVIDERS)}, "PYTHONPATH": str(ROOT), **extra}


async def test_a_typed_conversation_with_only_an_openai_key(stand_in, hospital_url: str, tmp_path: Path) -> None:  # noqa: F811
    server, base_url = stand_in
    env = _environment(DATABASE_URL=hospital_url, OPENAI_API_KEY="sk-test-stand-in", OPENAI_BASE_URL=base_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "console",
        "--text",
        cwd=tmp_path,  # no .env
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(b"Do you have a heart doctor who speaks Hindi?\nquit\n"), timeout=120
    )
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 0, stderr
    assert "agent> Hello, you've reached Riverside General Hospital." in stdout
    assert "agent> Yes, Aisha Patel is a cardiologist who speaks Hindi." in stdout
    assert "Traceback" not in stderr
    assert len(server.requests) == 2  # the tool call, then the reply
    assert server.authorizations[0] == "Bearer sk-test-stand-in"


def test_without_the_openai_key_it_names_what_is_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "console", "--text"],
        cwd=tmp_path,
        env=_environment(DATABASE_URL="postgresql://app@127.0.0.1:9/hospital"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "OPENAI_API_KEY: missing" in result.stderr
    assert "DEEPGRAM" not in result.stderr
    assert "Traceback" not in result.stderr


def test_console_help_prints_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "console", "--help"],
        env=_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--text" in result.stdout


@pytest.mark.skipif(_portaudio_present(), reason="PortAudio is installed here")
def test_voice_console_without_portaudio_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "console"],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "console: the voice console needs the PortAudio library: sudo apt-get install libportaudio2 "
        "(or type instead: python -m agent console --text)"
    ]


async def test_end_call_ends_the_typed_conversation(hospital_url: str, sql, capsys) -> None:
    from livekit.agents import llm

    from agent import text_console
    from agent.settings import Settings, load
    from devtools.testing.scripted import Call, ScriptedLLM

    settings = load(
        Settings,
        database_url=hospital_url,
        openai_api_key="sk-unused",
        **{name.lower(): value for name, value in text_console.UNUSED_IN_TEXT.items()},
    )
    model: llm.LLM = ScriptedLLM(Call("end_call", {}), "Goodbye, take care.")
    reader, writer = os.pipe()
    os.write(writer, b"That's all, thank you, bye.\n")  # and the input stays open: end_call must end it
    with os.fdopen(reader) as source:
        await asyncio.wait_for(text_console.converse(settings, source, sys.stdout, model=model), timeout=30)
        os.close(writer)  # lets the reading thread finish, so the file can close
    out, err = capsys.readouterr()
    assert "agent> Goodbye, take care." in out
    assert "Traceback" not in err
    assert sql("SELECT outcome, ended_at IS NOT NULL FROM call_sessions") == [("completed", True)]


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "console", "--text"],
        cwd=tmp_path,
        env=_environment(DATABASE_URL="postgresql://app:pw-not-shown@127.0.0.1:9/hospital", OPENAI_API_KEY="sk-x"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("console: cannot reach the database in DATABASE_URL (")
    assert "make db-start" in line
    assert "pw-not-shown" not in result.stderr
