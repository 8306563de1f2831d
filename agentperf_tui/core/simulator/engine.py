"""The serving-engine model: continuous batching with chunked prefill, paged KV cache with
prefix caching, FCFS queueing and recompute preemption, on any clock.

The engine never reads a clock. Callers submit requests at a time `t`, ask for the next time
something happens (`next_time`), and run the engine up to a time (`run_until`). The real-clock
server drives it from an asyncio loop; the virtual clock drives it from an event heap.

Scheduling follows vLLM V1: every step, running requests first (decodes and unfinished prompt
chunks, in arrival order), within a token budget (`max_num_batched_tokens`); then waiting
requests while budget, `max_num_seqs` and KV blocks allow, each taking a prompt chunk after its
prefix-cache hit. When a running request needs a block and none is free, the most recently
admitted running request is preempted: its blocks are freed and it goes back to the front of
the queue, to recompute its prompt and output so far (prefix hits may spare part of it).
"""

from __future__ import annotations

import contextlib
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentperf_tui.core.simulator.kvcache import BlockPool
from agentperf_tui.core.simulator.profiles import Deployment
from agentperf_tui.core.simulator.roofline import Roofline, StepCost

INF = math.inf


class RequestRejected(ValueError):
    """The request can never be served (too long for the model or the KV cache); HTTP 400."""


@dataclass(slots=True, eq=False)
class SimRequest:
    rid: int
    prompt_len: int
    hashes: Sequence[int]
    """Chained hashes of the prompt's full KV blocks (prefix-cache identity)."""
    target: int
    """Output tokens this request will generate (max_tokens, or earlier at a modelled EOS)."""
    finish_reason: str
    """"length" or "stop", decided at submission."""
    t_arrival: float
    replica: int = -1
    computed: int = 0
    out: int = 0
    chunk: int = 0
    cached_tokens: int = 0
    admitted: bool = False
    shared: list[int] = field(default_factory=list)
    private: int = 0
    nblocks: int = 0
    """Blocks held: len(shared) + private."""
    t_admitted: float = math.nan
    t_first: float = math.nan
    t_last: float = math.nan
    preemptions: int = 0
    finished: bool = False
    aborted: bool = False
    owner: Any = None
    """Opaque slot for the caller (an HTTP stream, a virtual agent)."""
    session: int | None = None
    """The conversation the prompt continues, for an engine that caches per conversation (the
    rack-scale engine); None: the prompt's first block identity names it."""


@dataclass(slots=True)
class EngineCounters:
    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    preemptions: int = 0
    steps: int = 0
    step_tokens: int = 0
    finished: dict[str, int] = field(default_factory=dict)


class Replica:
    """One engine instance (one model copy on `gpus_per_replica` GPUs)."""

    def __init__(self, index: int, dep: Deployment, roofline: Roofline) -> None:
        e = dep.engine
        self.index = index
        self.block = e.block_size
        self.max_seqs = e.max_num_seqs
        self.budget = e.max_num_batched_tokens
        self.caching = e.prefix_caching
        self.pool = BlockPool(dep.num_blocks)
        self.roofline = roofline
        self.c = EngineCounters()
        self.waiting: deque[SimRequest] = deque()
        self.running: list[SimRequest] = []
        self.sched_decode: list[SimRequest] = []
        self.sched_prefill: list[SimRequest] = []
        self.busy = False
        self.step_start = 0.0
        self.step_end = INF
        self.ready_at = INF
        self.cost: StepCost | None = None
        g = dep.gpus_per_replica
        hw = dep.hardware
        self.idle_w = hw.idle_w * g
        self.range_w = (hw.tdp_w - hw.idle_w) * g
        self.power = self.idle_w
        self.energy = 0.0
        self.t_energy = 0.0
        self.busy_s = 0.0

    # -- clock -----------------------------------------------------------------------------

    def next_time(self) -> float:
        if self.busy:
            return self.step_end
        return self.ready_at

    def _set_power(self, t: float, watts: float) -> None:
        if t > self.t_energy:
            self.energy += (t - self.t_energy) * self.power
            self.t_energy = t
        self.power = watts

    def energy_at(self, t: float) -> float:
        return self.energy + max(0.0, t - self.t_energy) * self.power

    def enqueue(self, req: SimRequest, t: float) -> None:
        self.waiting.append(req)
        if not self.busy and self.ready_at == INF:
            self.ready_at = t

    def advance(self, emitted: list[SimRequest] | None, finished: list[SimRequest]) -> None:
        """Do the next thing due: end the running step (and start the next), or start a step.

        Requests that produced a token go to `emitted` (when given), those that completed to
        `finished`.
        """
        if self.busy:
            t = self.step_end
            self._end_step(t, emitted, finished)
        else:
            t = self.ready_at
        self.ready_at = INF
        self._start_step(t)

    # -- scheduling ------------------------------------------------------------------------

    def _preempt(self, r: SimRequest) -> None:
        self.pool.release(r.shared, r.private)
        r.shared = []
        r.private = 0
        r.nblocks = 0
        r.computed = 0
        r.chunk = 0
        r.preemptions += 1
        self.c.preemptions += 1
        self.waiting.appendleft(r)

    def _start_step(self, t: float) -> None:
        pool, block = self.pool, self.block
        budget = self.budget
        running = self.running
        decode: list[SimRequest] = []
        prefill_reqs: list[SimRequest] = []
        decode_ctx = 0
        prefill = 0
        pairs = 0.0
        prefill_ctx = 0
        preempted = False
        nrun = len(running)
        i = 0
        while i < nrun and budget > 0:
            r = running[i]
            c = r.computed
            n = r.prompt_len + r.out - c
            if n > budget:
                n = budget
            need = (c + n + block - 1) // block - r.nblocks
            if need > 0:
                ok = pool.allocate(need)
                while not ok:
                    victim = running.pop()
                    nrun -= 1
                    self._preempt(victim)
                    preempted = True
                    if victim is r:
                        break
                    ok = pool.allocate(need)
                if not ok:
                    break
                r.private += need
                r.nblocks += need
            r.chunk = n
            budget -= n
            if n == 1 and r.out > 0:
                decode.append(r)
                decode_ctx += c
            else:
                prefill_reqs.append(r)
                prefill += n
                pairs += n * c + n * (n + 1) / 2
                prefill_ctx += c
            i += 1
        if not preempted:
            waiting = self.waiting
            caching = self.caching
            c_ = self.c
            while waiting and budget > 0 and len(running) < self.max_seqs:
                r = waiting[0]
                seq_len = r.prompt_len + r.out
                hits = pool.lookup(r.hashes, (seq_len - 1) // block) if caching else 0
                hit_hashes = r.hashes[:hits]
                computed = hits * block
                n = min(seq_len - computed, budget)
                need = (computed + n + block - 1) // block - hits
                if pool.available - pool.idle_among(hit_hashes) < need:
                    break
                pool.acquire(hit_hashes)
                pool.allocate(need)
                waiting.popleft()
                r.shared = list(hit_hashes)
                r.private = need
                r.nblocks = hits + need
                r.computed = computed
                if not r.admitted:
                    r.admitted = True
                    r.cached_tokens = computed
                    r.t_admitted = t
                    c_.prompt_tokens += r.prompt_len
                    c_.prefix_queries += r.prompt_len
                    c_.prefix_hits += computed
                r.chunk = n
                running.append(r)
                prefill_reqs.append(r)
                prefill += n
                pairs += n * computed + n * (n + 1) / 2
                prefill_ctx += computed
                budget -= n
        self.sched_decode = decode
        self.sched_prefill = prefill_reqs
        if not decode and not prefill_reqs:
            self.busy = False
            self.step_end = INF
            self._set_power(t, self.idle_w)
            return
        cost = self.roofline.step(prefill, pairs, prefill_ctx, len(decode), decode_ctx)
        self.cost = cost
        self.busy = True
        self.step_start = t
        self.step_end = t + cost.duration
        self.c.steps += 1
        self.c.step_tokens += prefill + len(decode)
        self._set_power(t, self.idle_w + self.range_w * cost.activity)

    def _finish(self, r: SimRequest, finished: list[SimRequest]) -> None:
        r.finished = True
        self.pool.release(r.shared, r.private)
        r.shared = []
        r.private = 0
        r.nblocks = 0
        fin = self.c.finished
        fin[r.finish_reason] = fin.get(r.finish_reason, 0) + 1
        finished.append(r)

    def _end_step(self, t: float, emitted: list[SimRequest] | None, finished: list[SimRequest]) -> None:
        pool, block = self.pool, self.block
        self.busy_s += t - self.step_start
        n_before = len(finished)
        decode = self.sched_decode
        for r in decode:
            r.computed += 1
            out = r.out + 1
            r.out = out
            r.t_last = t
            r.chunk = 0
            if out >= r.target:
                self._finish(r, finished)
        gen = len(decode)
        if emitted is not None:
            emitted.extend(decode)
        caching = self.caching
        for r in self.sched_prefill:
            old = r.computed
            new = old + r.chunk
            r.computed = new
            r.chunk = 0
            if caching and r.private > 0:
                hashes = r.hashes
                hi = min(new // block, len(hashes))
                for b in range(old // block, hi):
                    if r.private > 0 and pool.register(hashes[b]):
                        r.shared.append(hashes[b])
                        r.private -= 1
            if new == r.prompt_len + r.out:
                r.out += 1
                if r.out == 1:
                    r.t_first = t
                r.t_last = t
                gen += 1
                if emitted is not None:
                    emitted.append(r)
                if r.out >= r.target:
                    self._finish(r, finished)
        self.c.generation_tokens += gen
        self.sched_decode = []
        self.sched_prefill = []
        if len(finished) > n_before:
            self.running = [r for r in self.running if not r.finished]

    def abort(self, r: SimRequest, t: float) -> None:
        """Drop a request (client went away); frees its blocks at once."""
        if r.finished:
            return
        r.finished = True
        r.aborted = True
        r.finish_reason = "abort"
        fin = self.c.finished
        fin["abort"] = fin.get("abort", 0) + 1
        # a chunk being computed for it is dropped from the step's results
        if r in self.sched_decode:
            self.sched_decode = [x for x in self.sched_decode if x is not r]
        if r in self.sched_prefill:
            self.sched_prefill = [x for x in self.sched_prefill if x is not r]
        if r in self.running:
            self.running = [x for x in self.running if x is not r]
            self.pool.release(r.shared, r.private)
        else:
            with contextlib.suppress(ValueError):
                self.waiting.remove(r)
        r.shared = []
        r.private = 0
        r.nblocks = 0

    @property
    def load(self) -> int:
        return len(self.running) + len(self.waiting)


class Engine:
    """All replicas of a deployment behind a router, plus the EOS model and the counters."""

    def __init__(self, dep: Deployment, *, seed: int = 0,
                 on_finish: Callable[[SimRequest], None] | None = None) -> None:
        self.dep = dep
        self.roofline = Roofline(dep)
        self.block = dep.engine.block_size
        self.capacity_tokens = dep.kv_capacity_tokens
        self.max_model_len = dep.model.max_model_len
        self.eos_p = 1.0 / dep.engine.eos_mean_tokens
        self._rng = random.Random(seed)
        self._ids = 0
        self._on_finish = on_finish
        self.replicas = [Replica(i, dep, self.roofline) for i in range(dep.replicas)]

    # -- requests --------------------------------------------------------------------------

    def new_request(self, prompt_len: int, hashes: Sequence[int], t: float, *, max_tokens: int | None,
                    min_tokens: int = 0, ignore_eos: bool = False, owner: Any = None,
                    session: int | None = None) -> SimRequest:
        """Validate and build a request (not yet submitted). Raises RequestRejected.

        `session` is not needed here: the block cache finds shared blocks wherever they are."""
        del session
        limit = self.max_model_len
        if prompt_len < 1:
            raise RequestRejected("the prompt is empty")
        if prompt_len >= limit:
            raise RequestRejected(
                f"This model's maximum context length is {limit} tokens. However, your request has "
                f"{prompt_len} input tokens. Please reduce the length of the input messages.")
        if max_tokens is None:
            max_tokens = limit - prompt_len
        if max_tokens < 1:
            raise RequestRejected("max_tokens must be at least 1")
        if prompt_len + max_tokens > limit:
            raise RequestRejected(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt_len + max_tokens} tokens ({prompt_len} in the messages, {max_tokens} in "
                f"the completion). Please reduce the length of the messages or completion.")
        if prompt_len + max_tokens > self.capacity_tokens:
            raise RequestRejected(
                f"the request needs {prompt_len + max_tokens} tokens of KV cache, more than one "
                f"replica holds ({self.capacity_tokens}); use more GPUs per replica")
        min_tokens = max(0, min(min_tokens, max_tokens))
        if ignore_eos:
            target, reason = max_tokens, "length"
        else:
            natural = self._natural_length()
            target = min(max_tokens, max(min_tokens, natural))
            reason = "length" if natural >= max_tokens else "stop"
        self._ids += 1
        return SimRequest(rid=self._ids, prompt_len=prompt_len, hashes=hashes, target=target,
                          finish_reason=reason, t_arrival=t, owner=owner)

    def _natural_length(self) -> int:
        u = self._rng.random()
        return 1 + int(math.log1p(-u) / math.log1p(-self.eos_p))

    def submit(self, req: SimRequest, t: float) -> None:
        """Route a request to a replica at time t (t must not precede the last run_until)."""
        rep = self._route(req)
        req.replica = rep.index
        rep.enqueue(req, t)

    def _route(self, req: SimRequest) -> Replica:
        reps = self.replicas
        if len(reps) == 1:
            return reps[0]
        low = min(r.load for r in reps)
        slack = max(2, low // 8)
        best = None
        best_key = (-1, 0)
        for r in reps:
            if r.load > low + slack:
                continue
            hits = r.pool.lookup(req.hashes, len(req.hashes)) if r.caching else 0
            key = (hits, -r.load)
            if key > best_key:
                best, best_key = r, key
        assert best is not None
        return best

    def abort(self, req: SimRequest, t: float) -> None:
        if 0 <= req.replica < len(self.replicas):
            self.replicas[req.replica].abort(req, t)

    # -- clock -----------------------------------------------------------------------------

    def next_time(self) -> float:
        return min(r.next_time() for r in self.replicas)

    def run_until(self, t: float, emitted: list[SimRequest] | None = None) -> list[SimRequest]:
        """Run every replica up to time t; return the requests that finished in that span.

        With `emitted` given, every request that produced a token is appended to it once per
        token, in step order.
        """
        finished: list[SimRequest] = []
        for rep in self.replicas:
            while True:
                nt = rep.next_time()
                if nt > t or nt == INF:
                    break
                rep.advance(emitted, finished)
        if self._on_finish is not None:
            for r in finished:
                self._on_finish(r)
        return finished

    # -- observation -----------------------------------------------------------------------

    @property
    def counters(self) -> EngineCounters:
        """Counters summed over replicas."""
        out = EngineCounters()
        for rep in self.replicas:
            c = rep.c
            out.prompt_tokens += c.prompt_tokens
            out.generation_tokens += c.generation_tokens
            out.prefix_queries += c.prefix_queries
            out.prefix_hits += c.prefix_hits
            out.preemptions += c.preemptions
            out.steps += c.steps
            out.step_tokens += c.step_tokens
            for k, v in c.finished.items():
                out.finished[k] = out.finished.get(k, 0) + v
        return out

    @property
    def running(self) -> int:
        return sum(len(r.running) for r in self.replicas)

    @property
    def waiting(self) -> int:
        return sum(len(r.waiting) for r in self.replicas)

    @property
    def kv_usage(self) -> float:
        total = sum(r.pool.total for r in self.replicas)
        return sum(r.pool.used for r in self.replicas) / total if total else 0.0

    def energy_j(self, t: float) -> float:
        """Energy of all GPUs since time 0, up to time t (t at or after the last `run_until`)."""
        return sum(r.energy_at(t) for r in self.replicas)

    def power_w(self) -> float:
        """Power of all GPUs now (the current step's modelled draw, or idle)."""
        return sum(r.power for r in self.replicas)
