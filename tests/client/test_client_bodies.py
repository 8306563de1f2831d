"""Request bodies and the compact result columns."""

from __future__ import annotations

import orjson
import pytest

from agentperf_tui.core.client.request import chat_body, completion_body

TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]


def test_chat_body_exact() -> None:
    body = orjson.loads(chat_body("m", [{"role": "user", "content": "hi"}], max_tokens=300, tools=TOOLS))
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": TOOLS,
        "max_tokens": 300,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
        "min_tokens": 300,
    }


def test_chat_body_not_exact_narrowed_and_extra() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    body = orjson.loads(chat_body("m", msgs, max_tokens=5, exact=False, extra={"temperature": 0.2}))
    assert "ignore_eos" not in body and "min_tokens" not in body and "tools" not in body
    assert body["temperature"] == 0.2 and body["stream"] is True
    body = orjson.loads(chat_body("m", msgs, max_tokens=5, exact_fields=("ignore_eos",)))
    assert body["ignore_eos"] is True and "min_tokens" not in body
    with pytest.raises(ValueError, match="unknown exact-length field 'stop_eos'"):
        chat_body("m", msgs, max_tokens=5, exact_fields=("stop_eos",))
    with pytest.raises(ValueError, match="max_tokens must be at least 1"):
        chat_body("m", msgs, max_tokens=0)


def test_completion_body() -> None:
    body = orjson.loads(completion_body("m", "def f():", max_tokens=7))
    assert body["prompt"] == "def f():" and body["min_tokens"] == 7 and body["ignore_eos"] is True
    assert body["stream_options"] == {"include_usage": True}
