"""Request bodies of text trajectories, joined from messages encoded once and shared by every agent,
are byte for byte the bodies of the prefixed conversation encoded whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agentperf_tui.core.client.request import EXACT_FIELDS, chat_body, completion_body
from agentperf_tui.core.engine.bodies import PREFIX_SLOT, Bodies
from agentperf_tui.core.engine.replay_source import ReplaySource, Shapes
from agentperf_tui.core.workload.importers.aa_local import import_aa_local
from agentperf_tui.core.workload.text_replay import (
    build_text_turn_messages,
    tools_for_turn,
    tree_text_messages,
)
from agentperf_tui.core.workload.trajectory import TextTurn, Trajectory, load_set

from .traj_files import write_lines

MODEL = "org/model-1"
SETTINGS = [
    ("chat", True, EXACT_FIELDS),
    ("chat", True, ("ignore_eos",)),
    ("chat", False, EXACT_FIELDS),
    ("completions", True, EXACT_FIELDS),
    ("completions", False, EXACT_FIELDS),
]
PREFIXES = ["seven lazy otters paddle north", "ä \"quoted\" \\ \n prefix 🚀", ""]


def _encoded_whole(api: str, exact: bool, fields: tuple[str, ...], messages: list[dict[str, Any]],
                   turn: TextTurn, traj: Trajectory) -> bytes:
    """The body as encoding the whole prefixed conversation makes it."""
    if api == "chat":
        return chat_body(MODEL, messages, max_tokens=turn.output_tokens,
                         tools=tools_for_turn(traj.header, turn), exact=exact, exact_fields=fields)
    prompt = "\n\n".join(str(m.get("content") or "") for m in messages)
    return completion_body(MODEL, prompt, max_tokens=turn.output_tokens, exact=exact, exact_fields=fields)


def _check_set(trajectories: list[Trajectory]) -> int:
    checked = 0
    for api, exact, fields in SETTINGS:
        bodies, shapes = Bodies(api, MODEL, exact, fields), Shapes()
        for traj in trajectories:
            for prefix in PREFIXES:
                source = ReplaySource(traj, prefix, None, 0, shapes)
                whole = tree_text_messages(traj, prefix=prefix)
                if not traj.is_tree:  # the linear replay as it was always built
                    whole = {"root": list(build_text_turn_messages(traj.turns, prefix=prefix))}  # type: ignore[arg-type]
                for node in shapes.tree(traj).walk():
                    for k, turn in enumerate(node.turns):
                        assert isinstance(turn, TextTurn)
                        expected = _encoded_whole(api, exact, fields, whole[node.id][k], turn, traj)
                        for _ in range(2):  # encoded, then from what was kept
                            got = bodies(source.request(node, k))
                            assert got == expected, f"{api} {traj.id} {node.id} turn {k} prefix {prefix!r}"
                            checked += 1
    return checked


def test_recorded_agent_traces(aa_default_manifest: Path, tmp_path: Path) -> None:
    import_aa_local(aa_default_manifest, tmp_path)
    assert _check_set(load_set(tmp_path)) > 1000


def _turn(i: int, *append: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"i": i, "append": list(append), "output_tokens": 3 + i} | kw


V1 = {"format": "agentperf-traj/1", "kind": "text"}
TOOLS = [{"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}]


def _awkward_set(folder: Path) -> list[Trajectory]:
    """First messages without content, with list content, with the splice marker itself; escapes,
    non-ASCII and control characters; tool calls; drop_last; compaction; per-turn tools; a tree."""
    folder.mkdir()
    odd = "héllo — 日本 🚀 \u0000\t\"quoted\" \\ </script> \u2028"
    write_lines(folder / "a.jsonl", V1 | {"id": "a", "tools": TOOLS},
           _turn(0, {"role": "system"}, {"role": "user", "content": odd}),
           _turn(1, {"role": "assistant", "content": None,
                     "tool_calls": [{"id": "c1", "type": "function",
                                     "function": {"name": "run", "arguments": "{\"x\": 1}"}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                 {"role": "user", "content": "turn 2 of 9"},
                 tools=[]),
           _turn(2, {"role": "user", "content": "turn 3 of 9"}, drop_last=1),
           _turn(3, {"role": "user", "content": [{"type": "text", "text": "summary ✓"}]},
                 {"role": "assistant", "content": "next"}, compacted=True))
    write_lines(folder / "b.jsonl", V1 | {"id": "b"},
           _turn(0, {"role": "system", "content": f"contains {PREFIX_SLOT} once"},
                 {"role": "user", "content": "x"}),
           _turn(1, {"role": "assistant", "content": PREFIX_SLOT}))
    write_lines(folder / "c.jsonl", V1 | {"id": "c"},
           _turn(0, {"role": "user", "content": [{"type": "text", "text": "look"},
                                                  {"type": "image_url", "image_url": {"url": "data:,"}}]}),
           _turn(1, {"role": "assistant", "content": ""}))
    write_lines(folder / "d.jsonl", V1 | {"format": "agentperf-traj/2", "id": "d", "tools": TOOLS},
           _turn(0, {"role": "system", "content": "S"}, {"role": "user", "content": "task"}),
           _turn(1, {"role": "assistant", "content": "spawn"}, {"role": "tool", "content": "results"}),
           {"node": "fork", "at_turn": 1, "context": "parent"},
           _turn(0, {"role": "user", "content": "deeper"}),
           {"node": "sys", "at_turn": 0, "context": "system"}, _turn(0, {"role": "user", "content": "tests"}),
           {"node": "fresh", "at_turn": 0}, _turn(0, {"role": "user", "content": "alone"}))
    return load_set(folder, trees=True)


def test_awkward_messages_and_trees(tmp_path: Path) -> None:
    trajectories = _awkward_set(tmp_path / "set")
    assert any(t.is_tree for t in trajectories)
    assert _check_set(trajectories) > 100


def test_agents_share_the_conversation(tmp_path: Path) -> None:
    """Two agents replaying one trajectory send the same message lists (no copy of either's
    context); their bodies differ only by their prefixes."""
    traj = next(t for t in _awkward_set(tmp_path / "set") if t.id == "a")
    shapes = Shapes()
    root = shapes.tree(traj)
    one, two = (ReplaySource(traj, p, None, 0, shapes) for p in ("first agent", "second agent"))
    bodies = Bodies("chat", MODEL, True, EXACT_FIELDS)
    for k in range(len(root.turns)):
        a, b = one.request(root, k), two.request(root, k)
        assert a.messages is b.messages
        body_a, body_b = bodies(a), bodies(b)
        assert body_a != body_b and body_a.replace(b"first agent", b"second agent") == body_b


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_token_turns_are_encoded_as_they_come(api: str) -> None:
    """A request whose messages are its own (token-only filler, prefix already in) is encoded whole."""
    from agentperf_tui.core.engine.conversation import TurnRequest

    messages = [{"role": "user", "content": "P\n\nfiller words"}]
    req = TurnRequest(turn=0, messages=messages, tools=None, output_tokens=4, tool_delay_s=0, think_time_s=0)
    body = orjson.loads(Bodies(api, MODEL, True, EXACT_FIELDS)(req))
    assert (body.get("messages") or body.get("prompt")) in (messages, "P\n\nfiller words")
    assert body["max_tokens"] == body["min_tokens"] == 4 and body["stream"] is True
