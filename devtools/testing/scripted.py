"""A scripted stand-in for the OpenAI chat model: each request consumes the next scripted step.

A step is a reply, one or more tool calls, or a function of the conversation so far that returns one of those
(as a real model reads earlier tool outputs before its next step). It proves our side only, never the
model's judgement. Used by the conversation tests and by bench/agent.py.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr


@dataclass(frozen=True)
class Call:
    """One tool call the model makes."""

    name: str
    arguments: dict[str, Any]


# A step is a reply, one or more tool calls, or a function of the conversation so far returning one of those.
Step = str | Call | list[Call] | Callable[[llm.ChatContext], "str | Call | list[Call]"]


class ScriptedLLM(llm.LLM):
    """Stand-in for the OpenAI chat model: each request consumes the next scripted step."""

    def __init__(self, *steps: Step) -> None:
        super().__init__()
        self.steps: list[Step] = list(steps)
        self.requests: list[llm.ChatContext] = []

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def model(self) -> str:
        return "scripted-stand-in"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        self.requests.append(chat_ctx.copy())
        if not self.steps:
            raise AssertionError("the scripted LLM was asked for more steps than the test scripted")
        step = self.steps.pop(0)
        if callable(step) and not isinstance(step, Call):
            step = step(chat_ctx)
        return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options, step=step)


class _ScriptedStream(llm.LLMStream):
    _ids = itertools.count()

    def __init__(self, owner: ScriptedLLM, *, step: str | Call | list[Call], **kwargs: Any) -> None:
        super().__init__(owner, **kwargs)
        self._step = step

    async def _run(self) -> None:
        request_id = f"scripted-{next(self._ids)}"
        if isinstance(self._step, str):
            for word in re.findall(r"\S+\s*", self._step):
                self._event_ch.send_nowait(
                    llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=word))
                )
            return
        calls = self._step if isinstance(self._step, list) else [self._step]
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                delta=llm.ChoiceDelta(
                    role="assistant",
                    tool_calls=[
                        llm.FunctionToolCall(
                            name=call.name, arguments=json.dumps(call.arguments), call_id=f"call_{uuid.uuid4().hex[:8]}"
                        )
                        for call in calls
                    ],
                ),
            )
        )
