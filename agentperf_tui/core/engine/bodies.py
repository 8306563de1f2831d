"""The JSON body of each request, from a turn request and the run's API settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentperf_tui.core.client.request import CHAT_PATH, COMPLETIONS_PATH, chat_body, completion_body
from agentperf_tui.core.engine.conversation import TurnRequest


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("content") or "") for m in messages)


def request_path(api: str) -> str:
    return CHAT_PATH if api == "chat" else COMPLETIONS_PATH


def body_fn(
    api: str, model: str, exact: bool, exact_fields: tuple[str, ...]
) -> Callable[[TurnRequest], bytes]:
    def body(req: TurnRequest) -> bytes:
        if api == "chat":
            return chat_body(
                model, req.messages, max_tokens=req.output_tokens, tools=req.tools, exact=exact,
                exact_fields=exact_fields,
            )
        return completion_body(
            model, _prompt_text(req.messages), max_tokens=req.output_tokens, exact=exact,
            exact_fields=exact_fields,
        )

    return body
