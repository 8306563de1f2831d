"""The engine in a process of its own (what the console runs): real child processes, real pipes,
the embedded simulator on 127.0.0.1, a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

import pytest

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.engine import EngineError
from agentperf_tui.core.engine.process import EngineProcess, EngineProcessDied
from agentperf_tui.core.engine.process_child import Outbox, RemoteEngineError, portable_error
from agentperf_tui.core.engine.protocol import (
    Abort,
    Annotate,
    EventLogged,
    Pause,
    Published,
    RepeatLevel,
    Resume,
    RunSummarised,
    SetConcurrency,
    SkipLevel,
    SnapshotPublished,
)
from agentperf_tui.core.store import list_runs, load_run
from agentperf_tui.core.summary.model import RunSummary
from agentperf_tui.core.views import Event, Percentiles, Snapshot

REPO = Path(__file__).resolve().parents[2]
QUICK = REPO / "trajectories" / "quick"


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _add(self, kind: str, x: Any) -> None:
        with self.lock:
            self.log.append((kind, x))

    def on_snapshot(self, s: Snapshot) -> None:
        self._add("snapshot", s)

    def on_event(self, e: Event) -> None:
        self._add("event", e)

    def on_finish(self, summary: RunSummary) -> None:
        self._add("finish", summary)

    def on_error(self, error: BaseException) -> None:
        self._add("error", error)

    def of(self, kind: str) -> list[Any]:
        with self.lock:
            return [x for k, x in self.log if k == kind]


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {
        "mode": "fixed",
        "trajectories": str(QUICK),
        "concurrency": 2,
        "duration_s": 6.0,
        "warmup_s": 1.0,
        "tier": "5/30",
        "telemetry": "none",
        "store": str(tmp_path / "runs.sqlite3"),
    }
    base.update(kw)
    return RunConfig(**base)


def _wait(cond: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_run_in_its_own_process_reports_and_obeys_like_one_in_a_thread(tmp_path: Path) -> None:
    rec = Recorder()
    engine = EngineProcess(_config(tmp_path), [rec])
    engine.start()
    assert engine.pid is not None and engine.pid != os.getpid()
    _wait(lambda: engine.latest() is not None and engine.latest().agents == 2, 60, "two agents running")  # type: ignore[union-attr]
    assert engine.run_id is not None and engine.store_path == str(tmp_path / "runs.sqlite3")
    engine.submit(Annotate("max-num-seqs 256"))
    engine.submit(SetConcurrency(3))
    assert engine.join(60)
    assert engine.error is None and engine.exit_code == 0
    assert not engine.running
    # the order the engine published in: the summary comes last, after the final snapshot
    assert rec.log[-1][0] == "finish"
    summary = rec.of("finish")[0]
    assert summary.status == "finished" and summary.requests.ok > 0
    assert engine.summary == summary
    snaps = rec.of("snapshot")
    assert len(snaps) >= 5 and snaps[-1].run_id == engine.run_id
    assert any(s.target_n == 3 and s.agents == 3 for s in snaps), "N set by hand reached the engine"
    messages = [e.message for e in rec.of("event")]
    assert "max-num-seqs 256" in messages
    assert any("N set by hand to 3" in m for m in messages)
    stored = list_runs(tmp_path / "runs.sqlite3")
    assert [r.id for r in stored] == [engine.run_id]
    assert stored[0].first_annotation == "max-num-seqs 256"
    assert not Path(engine.log_path).exists(), "a clean exit leaves no log behind"


@pytest.mark.slow
def test_every_control_crosses_to_the_engine_process(tmp_path: Path) -> None:
    rec = Recorder()
    engine = EngineProcess(_config(tmp_path, mode="search", duration_s=None, concurrency=2), [rec])
    engine.start()
    _wait(lambda: engine.latest() is not None and engine.latest().agents == 2, 60, "two agents running")  # type: ignore[union-attr]
    engine.submit(Pause())
    _wait(lambda: engine.latest().paused, 10, "a paused snapshot")  # type: ignore[union-attr]
    engine.submit(Resume())
    _wait(lambda: not engine.latest().paused, 10, "a running snapshot")  # type: ignore[union-attr]
    engine.submit(RepeatLevel())
    engine.submit(SkipLevel())

    def said(text: str) -> bool:
        return any(text in e.message for e in rec.of("event"))

    operator = ("level repeated by the operator", "level skipped by the operator")
    _wait(lambda: all(said(t) for t in operator), 10, "the operator's events")
    engine.submit(Abort())
    assert engine.join(30) and engine.summary is not None
    assert said("paused: agents finish their current request") and said("resumed")


@pytest.mark.slow
def test_abort_ends_the_run_with_its_summary_stored(tmp_path: Path) -> None:
    rec = Recorder()
    engine = EngineProcess(_config(tmp_path, duration_s=600.0), [rec])
    engine.start()
    _wait(lambda: engine.latest() is not None and engine.latest().requests_ok > 0, 60, "a first request")  # type: ignore[union-attr]
    t = time.monotonic()
    engine.submit(Abort())
    assert engine.join(30)
    stopped_in = time.monotonic() - t
    assert stopped_in < 20
    assert engine.summary is not None and engine.summary.status == "aborted"
    assert engine.run_id is not None
    assert load_run(tmp_path / "runs.sqlite3", engine.run_id).summary.status == "aborted"


@pytest.mark.slow
def test_an_engine_that_dies_is_reported_with_its_exit_code_and_keeps_what_it_stored(tmp_path: Path) -> None:
    rec = Recorder()
    engine = EngineProcess(_config(tmp_path, duration_s=600.0), [rec])
    engine.start()
    _wait(lambda: engine.latest() is not None and engine.latest().requests_ok > 2, 60, "requests done")  # type: ignore[union-attr]
    assert engine.pid is not None
    with open(engine.log_path, "a", encoding="utf-8") as log:  # as if it had said why before dying
        log.write("MemoryError: out of memory\n")
    os.kill(engine.pid, signal.SIGKILL)  # the child this test started
    assert engine.join(30)
    errors = rec.of("error")
    assert len(errors) == 1 and isinstance(errors[0], EngineProcessDied)
    message = str(errors[0])
    assert "exited with code -9" in message and engine.log_path in message and "MemoryError" in message
    assert Path(engine.log_path).exists(), "the log of an engine that died is kept"
    Path(engine.log_path).unlink()
    assert engine.summary is None and rec.of("finish") == []
    assert engine.run_id is not None
    partial = load_run(tmp_path / "runs.sqlite3", engine.run_id)
    assert len(partial.requests) > 0, "what was measured before the kill is in the store"


@pytest.mark.slow
def test_an_engine_error_reaches_the_console_as_itself(tmp_path: Path) -> None:
    rec = Recorder()
    engine = EngineProcess(_config(tmp_path, endpoint="http://127.0.0.1:9/v1", model="m"), [rec])
    engine.start()
    assert engine.join(60)
    errors = rec.of("error")
    assert len(errors) == 1 and isinstance(errors[0], EngineError)
    assert "127.0.0.1:9" in str(errors[0])
    assert engine.error is errors[0]
    # the error says it all; the engine wrote nothing else, and an empty log is not left behind
    assert not Path(engine.log_path).exists()


CONSOLE_THAT_VANISHES = """
import sys, time
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.process import EngineProcess
cfg = RunConfig.model_validate_json(sys.argv[1])
engine = EngineProcess(cfg, [])
engine.start()
while engine.latest() is None or engine.latest().requests_ok == 0:
    time.sleep(0.05)
print(engine.pid, engine.run_id, engine.log_path, flush=True)
import os
os._exit(0)  # no abort, no goodbye: as if the console were killed
"""


@pytest.mark.slow
def test_when_the_console_goes_away_the_engine_aborts_and_stores_its_summary(tmp_path: Path) -> None:
    cfg = _config(tmp_path, duration_s=600.0)
    out = subprocess.run(
        [sys.executable, "-c", CONSOLE_THAT_VANISHES, cfg.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pid_text, run_id, log_path = out.stdout.split()
    pid = int(pid_text)
    try:
        _wait(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 60, "the orphaned engine to stop")
    finally:
        if Path(f"/proc/{pid}").exists() and not _zombie(pid):
            os.kill(pid, signal.SIGKILL)  # started (through the script) by this test
    run = load_run(tmp_path / "runs.sqlite3", run_id)
    assert run.summary.status == "aborted"
    assert len(run.requests) > 0
    assert not Path(log_path).exists(), "an orphaned run that ended well leaves no log behind"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def _snap(i: int) -> Snapshot:
    return Snapshot(
        t=float(i), run_id="r", simulated_endpoint=True, target_n=i, agents=i, requests_waiting=0,
        requests_streaming=0, agents_in_tool=0, requests_ok=i, requests_failed=0, output_tokens=0,
        window_s=60.0, ttft=Percentiles(), speed_p25=1.0, speed_p50=1.0, speed_hist=(), speed_hist_edges=(),
        throughput_tok_s=0.0, client_lag_p99=0.0, client_lag_max=0.0,
    )  # fmt: skip


def test_outbox_never_blocks_the_engine_keeps_every_event_and_only_the_newest_snapshot() -> None:
    reader, writer = Pipe(duplex=False)
    outbox = Outbox(writer)
    # Nobody reads for a while: the engine's calls must still return at once.
    t = time.perf_counter()
    for i in range(2000):
        outbox.on_snapshot(_snap(i))
        outbox.on_event(Event(float(i), "info", f"e{i}"))
    outbox.on_finish(RunSummary(status="finished"))
    assert time.perf_counter() - t < 5.0
    got: list[Published] = []
    done = threading.Thread(target=outbox.close)
    done.start()
    while True:
        try:
            got.append(reader.recv())
        except EOFError:
            break
        if isinstance(got[-1], RunSummarised):
            break
    done.join(10)
    events = [m.event.message for m in got if isinstance(m, EventLogged)]
    snaps = [m.snapshot for m in got if isinstance(m, SnapshotPublished)]
    assert events == [f"e{i}" for i in range(2000)], "every event, in order"
    assert snaps[-1].target_n == 1999, "the newest snapshot is delivered"
    assert len(snaps) < 2000, "snapshots the reader was too slow for were dropped"
    last = got[-1]
    assert isinstance(last, RunSummarised)
    assert last.summary.to_json() == RunSummary(status="finished").to_json()


def test_an_error_that_cannot_be_pickled_crosses_as_text() -> None:
    class Local(Exception):
        pass

    plain = ValueError("bad value")
    assert portable_error(plain) is plain
    odd = portable_error(Local("cannot leave"))
    assert isinstance(odd, RemoteEngineError) and str(odd) == "Local: cannot leave"
