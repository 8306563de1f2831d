from agentperf_tui.core.engine.failures import FailureLog, hint_for, kind_of
from agentperf_tui.core.records import RequestResult


def _failed(error: str | None) -> RequestResult:
    return RequestResult(
        agent_id=0,
        trajectory_id="t",
        replay=0,
        turn=0,
        t_intended=0.0,
        t_sent=0.0,
        t_end=1.0,
        ok=False,
        error=error,
    )


def test_each_kind_is_told_once_and_counted() -> None:
    log = FailureLog()
    first = log.new_kinds([_failed("HTTP 500 at request 17"), _failed("HTTP 500 at request 18")])
    assert first == ["request failed (counted against the SLO): HTTP 500 at request 17"]
    assert log.new_kinds([_failed("HTTP 500 at request 99")]) == []
    assert log.counts[kind_of("HTTP 500 at request 1")] == 3
    assert log.new_kinds([_failed(None)]) == [
        "request failed (counted against the SLO): failed without a message"
    ]


def test_known_causes_carry_a_hint() -> None:
    vllm = (
        'HTTP 400: {"error": "\\"auto\\" tool choice requires --enable-auto-tool-choice '
        'and --tool-call-parser"}'
    )
    assert "enable-auto-tool-choice" in (hint_for(vllm) or "")
    assert "max-model-len" in (hint_for("This model's maximum context length is 8192 tokens") or "")
    assert hint_for("connection reset by peer") is None
    [msg] = FailureLog().new_kinds([_failed(vllm)])
    assert msg.endswith("or replay token-only trajectories")


def test_a_request_cut_off_by_the_end_of_the_run_is_not_told_as_a_failure() -> None:
    cut = _failed("still open when the run stopped")
    cut.failure = "open_at_end"
    assert FailureLog().new_kinds([cut]) == []
