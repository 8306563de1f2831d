"""`--budget`: a search's time budget from the command line into the run's config and plan."""

from __future__ import annotations

import argparse
import time

import pytest

from agentperf_tui.cli import search as search_cli
from agentperf_tui.cli.common import config_from_args
from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.config_fields import duration_seconds
from agentperf_tui.core.engine.run_context import RunContext


@pytest.mark.parametrize("text,seconds", [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0)])
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["soon", "-5m", "0", "m", "inf"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError) as e:
        duration_seconds(text)
    assert repr(text) in str(e.value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentperf-tui")
    search_cli.register(parser.add_subparsers())
    return parser


def test_the_budget_reaches_the_search_plan() -> None:
    args = _parser().parse_args(["search", "--tier", "100/5", "--budget", "10m"])
    cfg = config_from_args(args, mode="search", budget_s=args.budget_s, concurrency=4)
    assert cfg.budget_s == 600.0
    served = cfg.model_copy(update={"endpoint": "http://127.0.0.1:9", "model": "m"})

    def plan_budget(c: RunConfig) -> float | None:
        return RunContext(c, time.monotonic, lambda *_: None)._plan().budget_s

    assert plan_budget(served) == 600.0
    assert plan_budget(served.model_copy(update={"mode": "fixed"})) is None


def test_a_bad_budget_is_refused_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _parser().parse_args(["search", "--tier", "100/5", "--budget", "soon"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--budget" in err and "not a duration" in err


def test_console_flags_mean_what_search_flags_mean() -> None:
    from agentperf_tui.cli import console as console_cli

    parser = argparse.ArgumentParser(prog="agentperf-tui")
    sub = parser.add_subparsers()
    console_cli.register(sub)
    search_cli.register(sub)
    con = parser.parse_args(["console", "--tier", "100/5", "--start", "16", "--budget", "5m", "--go"])
    cfg = console_cli.prefill(con)
    assert (cfg.mode, cfg.concurrency, cfg.budget_s, con.go) == ("search", 16, 300.0, True)
    srch = parser.parse_args(["search", "--tier", "100/5", "--start", "16"])
    assert srch.concurrency == con.concurrency
    assert parser.parse_args(["console", "-n", "8"]).concurrency == 8
