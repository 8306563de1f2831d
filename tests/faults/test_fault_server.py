"""The fault server itself, seen from plain HTTP clients (httpx) and from the project's own client."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agentperf_tui.core.client.probe import probe_exact_length
from agentperf_tui.core.client.request import CHAT_PATH, chat_body
from agentperf_tui.core.client.sse import parse_stream
from agentperf_tui.core.client.stream import StreamClient
from agentperf_tui.core.workload.calibrate import calibrate

from .conftest import SpawnFaultServer, StartFaultServer
from .fault_ledger import FaultStats
from .fault_modes import Fault, FaultPlan
from .fault_process import FaultControl
from .fault_server import DEFAULT_MODEL, FaultServer

MESSAGES = [{"role": "user", "content": "x" * 400}]


def body(max_tokens: int = 8, *, exact: bool = True, **extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "model": DEFAULT_MODEL,
        "messages": MESSAGES,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if exact:
        b["ignore_eos"] = True
        b["min_tokens"] = max_tokens
    b.update(extra)
    return b


@dataclass
class Reply:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)
    """The payloads of the `data:` lines, in order."""
    times: list[float] = field(default_factory=list)
    error: Exception | None = None
    raw: bytes = b""

    @property
    def events(self) -> list[Any]:
        return [d if d == "[DONE]" else json.loads(d) for d in self.data]

    @property
    def tokens(self) -> list[str]:
        out = []
        for d in self.data:
            if d == "[DONE]":
                continue
            for c in json.loads(d)["choices"]:
                text = c.get("delta", {}).get("content") or c.get("text")
                if text:
                    out.append(text)
        return out

    @property
    def usage(self) -> dict[str, Any] | None:
        found = [e["usage"] for e in self.events if isinstance(e, dict) and e.get("usage")]
        return found[-1] if found else None


def post(url: str, payload: dict[str, Any], *, path: str = CHAT_PATH, read_s: float = 5.0) -> Reply:
    """POST and read the streamed reply line by line; errors are recorded, not raised."""
    reply = Reply()
    timeout = httpx.Timeout(5.0, read=read_s)
    try:
        with httpx.stream("POST", url + path, json=payload, timeout=timeout) as r:
            reply.status = r.status_code
            reply.headers = dict(r.headers)
            if r.status_code != 200:
                reply.raw = r.read()
                return reply
            for line in r.iter_lines():
                if line.startswith("data: "):
                    reply.data.append(line[6:])
                    reply.times.append(time.perf_counter())
    except httpx.HTTPError as exc:
        reply.error = exc
    return reply


def conserved(stats: FaultStats) -> bool:
    ended = stats.completed + stats.failed_total + stats.client_closed + stats.server_stopped
    return stats.seen == ended + stats.open


# -- honest replies ------------------------------------------------------------------------------


def test_an_honest_reply_has_vllms_stream_shape(fault_server: FaultServer) -> None:
    r = post(fault_server.url, body(6))
    assert r.status == 200 and r.error is None
    assert r.headers["content-type"].startswith("text/event-stream")
    events = r.events
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    token_events = events[1:7]
    assert [e["choices"][0]["delta"]["content"] for e in token_events] == r.tokens
    assert [e["choices"][0]["finish_reason"] for e in token_events] == [None] * 5 + ["length"]
    assert events[7]["choices"] == []
    assert events[7]["usage"] == {"prompt_tokens": 100, "completion_tokens": 6, "total_tokens": 106}
    assert events[8] == "[DONE]" and len(events) == 9
    assert {e["id"] for e in events[:-1]} == {events[0]["id"]}

    stats = fault_server.wait_settled()
    (rec,) = stats.requests
    assert (stats.seen, stats.completed, stats.open) == (1, 1, 0)
    assert (rec.max_tokens, rec.tokens_planned, rec.tokens_sent, rec.completion_tokens) == (6, 6, 6, 6)
    assert (rec.fault, rec.outcome, rec.status, rec.probe) == ("ok", "completed", 200, False)


def test_the_model_stops_early_unless_an_exact_field_is_sent(fault_server: FaultServer) -> None:
    natural = post(fault_server.url, body(20, exact=False))
    assert len(natural.tokens) == 10
    assert natural.usage is not None and natural.usage["completion_tokens"] == 10
    assert natural.events[-3]["choices"][0]["finish_reason"] == "stop"
    ignore = post(fault_server.url, body(20, exact=False, ignore_eos=True))
    assert len(ignore.tokens) == 20
    at_least = post(fault_server.url, body(20, exact=False, min_tokens=15))
    assert len(at_least.tokens) == 15
    both = post(fault_server.url, body(20))
    assert len(both.tokens) == 20 and both.usage is not None and both.usage["completion_tokens"] == 20
    no_usage = post(fault_server.url, body(4, stream_options=None))
    assert len(no_usage.tokens) == 4 and no_usage.usage is None and no_usage.data[-1] == "[DONE]"
    assert fault_server.wait_settled().completed == 5


def test_completions_endpoint_and_model_list(fault_server: FaultServer) -> None:
    models = httpx.get(fault_server.url + "/v1/models").json()
    assert models["data"] == [
        {"id": DEFAULT_MODEL, "object": "model", "created": models["data"][0]["created"],
         "owned_by": "agentperf-faults", "root": DEFAULT_MODEL, "parent": None, "max_model_len": 32768}
    ]
    payload = body(5)
    del payload["messages"]
    payload["prompt"] = "y" * 80
    r = post(fault_server.url, payload, path="/v1/completions")
    assert len(r.tokens) == 5 and r.events[0]["object"] == "text_completion"
    assert r.usage == {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    assert httpx.get(fault_server.url + "/metrics").status_code == 404


def test_pacing_and_ttft_are_lower_bounds_on_timing(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(tokens_per_s=50.0, ttft_s=0.2)
    t0 = time.perf_counter()
    r = post(server.url, body(6))
    assert len(r.tokens) == 6
    assert r.times[0] - t0 >= 0.2
    assert r.times[6] - r.times[1] >= 5 / 50 * 0.9  # tokens 2..6 follow the first at 50 tok/s


@pytest.mark.parametrize(
    ("payload", "status", "field_named"),
    [
        (body(4, stream=False), 400, "stream"),
        (body(4, model="other"), 404, "other"),
        (body(4, exact=False, min_tokens=9), 400, "min_tokens"),
        ({**body(4, exact=False), "max_tokens": 0}, 400, "max_tokens"),
        (body(4, messages=[]), 400, "messages"),
        (body(4, ignore_eos="yes"), 400, "ignore_eos"),
    ],
)
def test_bad_requests_get_a_json_error_and_are_counted(
    fault_server: FaultServer, payload: dict[str, Any], status: int, field_named: str
) -> None:
    r = post(fault_server.url, payload)
    assert r.status == status
    assert field_named in json.loads(r.raw)["error"]["message"]
    stats = fault_server.wait_settled()
    assert (stats.seen, stats.failed) == (1, {"bad_request": 1})


# -- faults --------------------------------------------------------------------------------------


def test_http_500_and_429_answer_openai_errors(fault_server: FaultServer) -> None:
    fault_server.set_fault("http_500")
    r = post(fault_server.url, body())
    assert r.status == 500
    err = json.loads(r.raw)["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["code"] == 500
    fault_server.set_fault("http_429", retry_after_s=7)
    r = post(fault_server.url, body())
    assert r.status == 429 and r.headers["retry-after"] == "7"
    assert json.loads(r.raw)["error"]["type"] == "RateLimitError"
    stats = fault_server.wait_settled()
    assert stats.failed == {"http_500": 1, "http_429": 1} and stats.completed == 0
    assert [rec.status for rec in stats.requests] == [500, 429]


def test_after_and_fraction_strike_an_exact_evenly_spread_share(fault_server: FaultServer) -> None:
    fault_server.set_fault("http_500", after=2, fraction=0.5)
    statuses = [post(fault_server.url, body(2)).status for _ in range(8)]
    assert statuses == [200, 200, 200, 500, 200, 500, 200, 500]
    stats = fault_server.wait_settled()
    assert (stats.completed, stats.failed) == (5, {"http_500": 3})
    assert [r.fault for r in stats.requests].count("http_500") == 3


def test_fault_plan_spreads_any_fraction_exactly() -> None:
    for fraction, n, expected in [(0.25, 8, 2), (0.3, 10, 3), (1.0, 5, 5), (0.0, 5, 0), (0.7, 10, 7)]:
        plan = FaultPlan(Fault(mode="reset", fraction=fraction))
        assert sum(plan.strikes(preflight=False) for _ in range(n)) == expected
    spare = FaultPlan(Fault(mode="reset", spare_preflight=True, after=1))
    assert [spare.strikes(p) for p in (True, True, False, True, False)] == [False, False, False, False, True]


def test_reset_aborts_the_connection_after_k_tokens(fault_server: FaultServer) -> None:
    fault_server.set_fault("reset", at_token=3)
    r = post(fault_server.url, body(10))
    assert r.status == 200
    assert isinstance(r.error, httpx.ReadError | httpx.RemoteProtocolError)
    assert len(r.tokens) == 3 and "[DONE]" not in r.data
    stats = fault_server.wait_settled()
    (rec,) = stats.requests
    assert (rec.outcome, rec.tokens_sent, rec.completion_tokens) == ("reset", 3, None)


def test_stall_before_first_sends_headers_then_nothing(fault_server: FaultServer) -> None:
    fault_server.set_fault("stall_before_first")
    t0 = time.perf_counter()
    r = post(fault_server.url, body(4), read_s=0.4)
    assert r.status == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert isinstance(r.error, httpx.ReadTimeout) and r.data == []
    assert time.perf_counter() - t0 >= 0.4
    stats = fault_server.wait_settled()
    (rec,) = stats.requests
    assert (rec.fault, rec.outcome, rec.tokens_sent) == ("stall_before_first", "client_closed", 0)


def test_a_finite_stall_resumes_and_completes(fault_server: FaultServer) -> None:
    fault_server.set_fault("stall_after_first", at_token=2, stall_s=0.3)
    r = post(fault_server.url, body(4))
    assert r.error is None and len(r.tokens) == 4 and r.data[-1] == "[DONE]"
    assert r.times[3] - r.times[2] >= 0.25  # role+t0, t1, then the silence before t2
    assert fault_server.wait_settled().completed == 1


def test_stall_after_first_sends_k_tokens_then_nothing(fault_server: FaultServer) -> None:
    fault_server.set_fault("stall_after_first", at_token=2)
    r = post(fault_server.url, body(6), read_s=0.4)
    assert isinstance(r.error, httpx.ReadTimeout) and len(r.tokens) == 2
    (rec,) = fault_server.wait_settled().requests
    assert (rec.outcome, rec.tokens_sent) == ("client_closed", 2)


def test_an_open_stall_stays_open_until_the_server_stops(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(Fault(mode="stall_before_first"))
    done = threading.Event()

    def hang() -> None:
        post(server.url, body(4), read_s=30)
        done.set()

    threading.Thread(target=hang, daemon=True).start()
    deadline = time.monotonic() + 5
    while server.stats().open != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(TimeoutError, match=r"1 request\(s\) still open"):
        server.wait_settled(timeout=0.2)
    server.stop()
    assert done.wait(5)
    stats = server.stats()
    assert (stats.open, stats.server_stopped) == (0, 1) and conserved(stats)


def test_malformed_puts_a_non_json_line_mid_stream(fault_server: FaultServer) -> None:
    fault_server.set_fault("malformed", at_token=2)
    r = post(fault_server.url, body(5))
    assert r.error is None and r.data[-1] == "[DONE]"
    bad = [d for d in r.data if d != "[DONE]" and not _is_json(d)]
    assert len(bad) == 1 and r.data.index(bad[0]) == 3  # role+t0, t1, then the bad line
    (rec,) = fault_server.wait_settled().requests
    assert (rec.outcome, rec.tokens_sent) == ("malformed", 5)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def test_truncated_ends_cleanly_without_finish_usage_or_done(fault_server: FaultServer) -> None:
    fault_server.set_fault("truncated", at_token=3)
    r = post(fault_server.url, body(8))
    assert r.error is None and len(r.tokens) == 3
    assert r.usage is None and "[DONE]" not in r.data
    assert all(c["finish_reason"] is None for e in r.events for c in e["choices"])
    (rec,) = fault_server.wait_settled().requests
    assert (rec.outcome, rec.tokens_sent) == ("truncated", 3)


def test_short_reports_the_true_completion_tokens(fault_server: FaultServer) -> None:
    fault_server.set_fault("short", short_share=0.25)
    r = post(fault_server.url, body(40))
    assert r.error is None and len(r.tokens) == 10
    assert r.usage is not None and r.usage["completion_tokens"] == 10
    assert r.events[-3]["choices"][0]["finish_reason"] == "stop"
    (rec,) = fault_server.wait_settled().requests
    assert (rec.fault, rec.outcome, rec.max_tokens, rec.tokens_sent) == ("short", "completed", 40, 10)


def test_slow_drip_sends_one_token_per_interval(fault_server: FaultServer) -> None:
    fault_server.set_fault("slow_drip", drip_s=0.1)
    r = post(fault_server.url, body(4), read_s=1.0)
    assert r.error is None and len(r.tokens) == 4
    gaps = [b - a for a, b in zip(r.times[1:4], r.times[2:5], strict=True)]
    assert min(gaps) >= 0.08
    assert fault_server.wait_settled().completed == 1


def test_refuse_drops_open_streams_and_restarts_on_the_same_port(fault_server: FaultServer) -> None:
    port = fault_server.port
    fault_server.set_fault("stall_after_first", at_token=1)
    result: list[Reply] = []
    t = threading.Thread(target=lambda: result.append(post(fault_server.url, body(4), read_s=10)))
    t.start()
    deadline = time.monotonic() + 5
    while fault_server.stats().open != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    fault_server.set_fault("refuse")
    t.join(5)
    assert isinstance(result[0].error, httpx.ReadError | httpx.RemoteProtocolError)
    assert not fault_server.listening
    with pytest.raises(httpx.ConnectError):
        httpx.get(fault_server.url + "/v1/models")
    fault_server.set_fault("ok")
    assert fault_server.listening and fault_server.port == port
    assert len(post(fault_server.url, body(3)).tokens) == 3
    stats = fault_server.wait_settled()
    assert (stats.seen, stats.completed, stats.failed) == (2, 1, {"refuse": 1})


def test_refuse_for_a_while_then_listen_again(fault_server: FaultServer) -> None:
    fault_server.set_fault("refuse", after=1, for_s=0.3)
    assert post(fault_server.url, body(2)).status == 200
    second = post(fault_server.url, body(2))
    assert second.status is None and second.error is not None  # this request brings the server down
    with pytest.raises(httpx.ConnectError):
        httpx.get(fault_server.url + "/health")
    deadline = time.monotonic() + 5
    while not fault_server.listening and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fault_server.fault.mode == "ok"
    assert post(fault_server.url, body(2)).status == 200
    stats = fault_server.wait_settled()
    assert (stats.seen, stats.completed, stats.failed) == (3, 2, {"refuse": 1})


def test_refusing_from_the_start_still_reports_the_port(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(Fault(mode="refuse"))
    assert server.port > 0 and not server.listening
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health")
    server.set_fault("ok")
    assert httpx.get(server.url + "/health").status_code == 200


# -- accounting ----------------------------------------------------------------------------------


def test_counters_are_exact_under_concurrency(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(Fault(mode="reset", fraction=0.5, at_token=2), tokens_per_s=500.0)
    replies: list[Reply] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        r = post(server.url, body(6 + i % 3))
        with lock:
            replies.append(r)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    stats = server.wait_settled()
    assert stats.seen == 24 and conserved(stats)
    assert (stats.completed, stats.failed) == (12, {"reset": 12})
    assert sum(r.tokens_sent for r in stats.requests) == sum(len(r.tokens) for r in replies)
    assert sum(r.error is None for r in replies) == 12


def test_a_client_that_hangs_up_is_counted_as_such(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(tokens_per_s=20.0)
    with httpx.stream("POST", server.url + CHAT_PATH, json=body(50), timeout=5) as r:
        lines = r.iter_lines()
        while not next(lines).startswith("data: "):
            pass
    stats = server.wait_settled()
    (rec,) = stats.requests
    assert rec.outcome == "client_closed" and 0 < rec.tokens_sent < 50


def test_control_port_switches_faults_and_serves_stats(fault_server: FaultServer) -> None:
    control = FaultControl(fault_server.control_url)
    try:
        reply = control.set_fault("http_429", retry_after_s=3, after=1)
        assert reply["mode"] == "http_429" and reply["params"]["retry_after_s"] == 3 and reply["listening"]
        assert fault_server.fault == Fault(mode="http_429", retry_after_s=3, after=1)
        assert [post(fault_server.url, body(2)).status for _ in range(2)] == [200, 429]
        assert control.stats() == fault_server.stats()
        for bad, named in [({"mode": "explode"}, "mode"), ({"mode": "reset", "params": {"at": 1}}, "at"),
                           ({"mode": "reset", "params": {"at_token": "2"}}, "at_token")]:
            r = httpx.post(fault_server.control_url + "/_fault", json=bad)
            assert r.status_code == 400 and named in r.json()["error"]["message"]
        with pytest.raises(ValueError, match="fraction"):
            control.set_fault("reset", fraction=2)
        assert control.fault()["mode"] == "http_429"
    finally:
        control.close()


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"mode": "nope"}, "mode"),
        ({"mode": "reset", "params": {"after": -1}}, "after"),
        ({"mode": "reset", "params": {"stall": 1}}, "stall"),
        ({"mode": "reset", "extra": 1}, "extra"),
        ({"params": {"mode": "reset"}}, "beside params"),
        ([1], "JSON object"),
    ],
)
def test_fault_parse_names_what_is_wrong(obj: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault.parse(obj)


# -- the project's own client ----------------------------------------------------------------------


async def test_the_probe_finds_an_honest_server_comparable(fault_server: FaultServer) -> None:
    async with StreamClient(fault_server.url) as client:
        probe = await probe_exact_length(client, DEFAULT_MODEL)
    assert probe.comparable and (probe.ignore_eos, probe.min_tokens) == ("honoured", "honoured")
    assert (probe.natural_tokens, probe.exact_tokens) == (32, 64) and probe.usage_reported
    stats = fault_server.wait_settled()
    assert (stats.seen, stats.probes, stats.completed) == (4, 4, 4)
    assert stats.excluding_probes().seen == 0


@pytest.mark.parametrize("spare", ["after", "spare_preflight"])
async def test_short_replies_after_an_honest_probe(start_fault_server: StartFaultServer, spare: str) -> None:
    fault = Fault(mode="short", after=4) if spare == "after" else Fault(mode="short", spare_preflight=True)
    server = start_fault_server(fault, tokens_per_s=None)
    async with StreamClient(server.url) as client:
        probe = await probe_exact_length(client, DEFAULT_MODEL)
        assert probe.comparable
        payload = chat_body(DEFAULT_MODEL, MESSAGES, max_tokens=30, exact_fields=probe.exact_fields)
        runs = [parse_stream(await client.stream(CHAT_PATH, payload, time.perf_counter(), time.perf_counter))
                for _ in range(3)]
    for p in runs:
        assert p.ok and p.output_tokens == p.client_output_tokens == 15
    stats = server.wait_settled()
    assert stats.probes == 4 and all(r.fault == "ok" for r in stats.requests if r.probe)
    run = stats.excluding_probes()
    assert (run.seen, run.completed) == (3, 3)
    assert [(r.fault, r.max_tokens, r.tokens_sent) for r in run.requests] == [("short", 30, 15)] * 3


async def test_preflight_requests_are_marked_and_can_be_spared(start_fault_server: StartFaultServer) -> None:
    server = start_fault_server(Fault(mode="http_500", spare_preflight=True), tokens_per_s=None)
    async with StreamClient(server.url) as client:

        async def count(messages: list[dict[str, Any]]) -> int:
            payload = chat_body(DEFAULT_MODEL, messages, max_tokens=1, exact=False)
            p = parse_stream(await client.stream(CHAT_PATH, payload, time.perf_counter(), time.perf_counter))
            assert p.prompt_tokens is not None
            return p.prompt_tokens

        assert (await probe_exact_length(client, DEFAULT_MODEL)).comparable
        calibration = await calibrate(count)
        assert calibration.fit_error is not None and calibration.fit_error < 0.05
        payload = chat_body(DEFAULT_MODEL, MESSAGES, max_tokens=1)
        run = parse_stream(await client.stream(CHAT_PATH, payload, time.perf_counter(), time.perf_counter))
    assert run.http_status == 500
    stats = server.wait_settled()
    assert (stats.seen, stats.probes, stats.calibrations, stats.completed) == (11, 4, 6, 10)
    own = stats.excluding_preflight()
    assert (own.seen, own.failed) == (1, {"http_500": 1})
    assert stats.excluding_probes().seen == 7


# -- standalone ----------------------------------------------------------------------------------


def test_standalone_serves_switches_and_reports_on_sigterm(spawn_fault_server: SpawnFaultServer) -> None:
    proc = spawn_fault_server("--mode", "http_500", "--param", "after=1", "--tokens-per-s", "0")
    assert proc.port > 0 and proc.pid > 0
    assert post(proc.url, body(3)).status == 200
    assert post(proc.url, body(3)).status == 500
    proc.control.set_fault("truncated", at_token=1)
    assert len(post(proc.url, body(3)).tokens) == 1
    stats = proc.stop()
    assert stats is not None and proc.proc is not None and proc.proc.returncode == 0
    assert (stats.seen, stats.completed, stats.failed) == (3, 1, {"http_500": 1, "truncated": 1})


def test_standalone_rejects_a_bad_fault(spawn_fault_server: SpawnFaultServer) -> None:
    with pytest.raises(RuntimeError, match="at_tokn"):
        spawn_fault_server("--mode", "reset", "--param", "at_tokn=3")
