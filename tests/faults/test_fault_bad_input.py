"""Bad input, table-driven: each is refused before anything runs, with an error that names the file,
line or field and says what to do, exit status 2 and no traceback."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore
from agentperf_tui.core.workload.lines import MAX_LINE_BYTES

from .conftest import StartFaultServer
from .fault_server import FaultServer
from .tool_runs import cli, quick_run, run_tool, write_trajectories

HEADER = {"format": "agentperf-traj/1", "id": "bad", "kind": "tokens"}
TURN = {"i": 0, "new_input_tokens": 100, "output_tokens": 8, "tool_delay_s": 0.1}


def _jsonl(*lines: object) -> bytes:
    return b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines)


Make = Callable[[Path], tuple[list[str], list[str]]]
"""Writes the bad input under the given folder; returns the run's extra flags and the words its
error must hold."""


@dataclass(frozen=True)
class Case:
    name: str
    make: Make
    env: tuple[tuple[str, str], ...] = ()
    server_key: str | None = None
    """The API key the fault server asks for (None: none)."""


def _trajectory(content: bytes, *needles: str) -> Callable[[Path], tuple[list[str], list[str]]]:
    def make(tmp: Path) -> tuple[list[str], list[str]]:
        path = tmp / "bad.jsonl"
        path.write_bytes(content)
        return ["--trajectories", str(path)], [n.replace("{path}", str(path)) for n in needles]

    return make


def _empty_folder(tmp: Path) -> tuple[list[str], list[str]]:
    folder = tmp / "empty"
    folder.mkdir()
    return ["--trajectories", str(folder)], [str(folder), "no *.jsonl trajectory files", "trajectories synth"]


def _giant_line(tmp: Path) -> tuple[list[str], list[str]]:
    path = tmp / "giant.jsonl"
    with path.open("wb") as fh:
        fh.write(_jsonl(HEADER))
        fh.write(b'{"i": 0, "text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n')
    return ["--trajectories", str(path)], [f"{path}:2", "longer than 32 MiB", "split the file"]


def _store_of_noise(tmp: Path) -> tuple[list[str], list[str]]:
    store = tmp / "noise.sqlite3"
    store.write_bytes(os.urandom(64 * 1024))
    return ["--store", str(store)], [str(store), "not a readable SQLite run store", "--store"]


def _foreign_sqlite(tmp: Path) -> tuple[list[str], list[str]]:
    store = tmp / "other.sqlite3"
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    return ["--store", str(store)], [str(store), "not an agentperf-tui run store", "--store"]


def _truncated_store(tmp: Path) -> tuple[list[str], list[str]]:
    """A run store holding a run of 3,000 requests, cut to a third of its length (a full disk, a
    copy gone wrong)."""
    store = tmp / "cut.sqlite3"
    with RunStore(store) as runs:
        run_id = runs.create_run(config={}, endpoint="http://127.0.0.1:1", model="m", simulated=False,
                                 started_wall=0.0)
        done = [RequestResult(agent_id=k % 8, trajectory_id="t", replay=k, turn=0, t_intended=k, t_sent=k,
                              t_end=k + 1.0, ok=True, error=None) for k in range(3000)]
        runs.add_requests(run_id, done, 0)
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 3])
    return ["--store", str(store)], [str(store), "not a readable SQLite run store", "--store"]


def _flags(*flags: str, said: tuple[str, ...]) -> Make:
    return lambda tmp: (list(flags), list(said))


BAD_JSON = b'{"i": 0, "new_input_tokens": 100,'
WRONG_FORMAT = {**HEADER, "format": "agentperf-traj/9"}
TYPO = {**TURN, "tool_dealy_s": 1}
NEGATIVE = {**TURN, "output_tokens": -3}
NOT_UTF8 = b'{"i": 0, "x": "\xff\xfe"}'

CASES = [
    Case("malformed JSONL", _trajectory(_jsonl(HEADER, BAD_JSON), "{path}:2", "JSON")),
    Case("wrong header", _trajectory(_jsonl(WRONG_FORMAT, TURN), "{path}:1", "format")),
    Case("missing header", _trajectory(_jsonl(TURN, TURN), "{path}:1", "must be the trajectory's header")),
    Case("unknown field", _trajectory(_jsonl(HEADER, TYPO), "{path}:2", "'tool_dealy_s'", "unknown field",
                                          "tool_delay_s")),
    Case("negative count", _trajectory(_jsonl(HEADER, NEGATIVE), "{path}:2", "'output_tokens'",
                                               "greater than or equal to 1")),
    Case("empty file", _trajectory(b"", "{path}", "expected a header line")),
    Case("header only", _trajectory(_jsonl(HEADER), "{path}", "no turns after the header")),
    Case("empty folder", _empty_folder),
    Case("non-UTF-8 bytes", _trajectory(_jsonl(HEADER, NOT_UTF8), "{path}:2", "UTF-8")),
    Case("giant line", _giant_line),
    Case("store of random bytes", _store_of_noise),
    Case("SQLite file of another program", _foreign_sqlite),
    Case("truncated store", _truncated_store),
    Case("API key with a line break", _flags("--api-key-env", "AGENTPERF_FAULT_KEY",
                                             said=("--api-key-env", "AGENTPERF_FAULT_KEY", "the key alone")),
         env=(("AGENTPERF_FAULT_KEY", "sk-line\nbreak"),)),
    Case("API key the server refuses", _flags("--api-key-env", "AGENTPERF_FAULT_KEY",
                                              said=("authentication failed (HTTP 401)", "/v1/models",
                                                    "--api-key-env")),
         env=(("AGENTPERF_FAULT_KEY", "sk-wrong"),), server_key="sk-right"),
    Case("no API key where one is needed", _flags(said=("authentication failed (HTTP 401)", "--api-key-env")),
         server_key="sk-right"),
    Case("model not served", _flags("--model", "Fault-Model",
                                    said=("'Fault-Model' is not served", "served: fault-model",
                                          "did you mean 'fault-model'"))),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_with_what_and_where(
    case: Case, start_fault_server: StartFaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    server = start_fault_server(api_key=case.server_key)
    flags, needles = case.make(tmp_path)
    good = quick_run(server.url, tmp_path / "runs.sqlite3", write_trajectories(tmp_path / "good"))
    run = cli("search", "--headless", "--sweep", "2", *good, *flags)
    assert run.code == 2, run.explain()
    assert "Traceback" not in run.stderr and "configuration error" in run.stderr
    for needle in needles:
        assert needle in run.stderr, f"{needle!r} not in: {run.stderr}"
    assert server.stats().excluding_probes().seen == 0, "nothing may be run on bad input"


def test_the_process_itself_exits_2_with_one_line_and_no_traceback(
    fault_server: FaultServer, tmp_path: Path
) -> None:
    """The same refusal from a real process, as a script sees it: a damaged store."""
    flags, needles = _truncated_store(tmp_path)
    good = quick_run(fault_server.url, tmp_path / "runs.sqlite3", write_trajectories(tmp_path / "good"))
    run = run_tool("run", "--headless", "--duration", "5", *good, *flags, timeout=30)
    assert run.code == 2, run.explain()
    assert run.stdout == "" and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()[-1:]
    assert line.startswith("agentperf-tui: configuration error: ") and all(n in line for n in needles)
