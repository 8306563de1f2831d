"""The rack-scale serving engine: pools of instances running a recipe shape, on any clock.

Same calling convention as `engine.Engine` (`new_request`, `submit`, `next_time`, `run_until`,
`energy_j`, `power_w`), built to stay fast with thousands of sequences in flight:

- Decoding is tracked per instance, not per token: every sequence of an instance gains the
  same number of tokens per step (1, or MTP's acceptance length), so an instance keeps a
  running token count, and each sequence is filed under the step at whose end that count
  reaches its last token; a step costs O(1) plus the sequences that join or finish in it.
- Admission is guaranteed-no-evict (TensorRT-LLM's default capacity policy): a request waits,
  first come first served, until a decode instance has a free batch slot on its ranks
  (`max_batch_per_rank` x attention ranks) and KV room for its prompt plus its whole reply.
  That wait is TTFT queueing; with the batch cap or the KV cache full, it is what bounds N.
- Prefill runs in chunks of at most `max_batched_tokens` per rank per step, in arrival order.
  Aggregated instances mix those chunks with their decode steps; disaggregated shapes prefill
  on their own pool, then move the KV cache to the decode instance (fabric bandwidth plus a
  fixed latency) before the first token.
- The prefix cache keeps, per conversation, its last prompt (as a chain of block hashes), in
  LRU order within the KV memory the pool leaves free (plus any host-memory offload tier):
  a request prefills only what its prompt does not share with its conversation's cached
  prompt, or with the latest cached prompt that starts with the same block (the other agents
  of one tree: a sub-agent that starts from its parent's context, or siblings that share a
  system prompt). A router that sends a conversation back to the instance holding its prefix
  is assumed (KV-aware routing).

Each instance's GPUs draw idle power between steps and idle + (TDP - idle) x activity during
a step (activity from the step's compute, memory and communication shares, as in roofline.py).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from agentperf_tui.core.simulator.block_runs import BlockRuns, common_prefix
from agentperf_tui.core.simulator.costmodel import PoolCost
from agentperf_tui.core.simulator.engine import INF, RequestRejected, SimRequest
from agentperf_tui.core.simulator.shapes import Shape


@dataclass(slots=True)
class PoolCounters:
    """Time integrals and counts the planner reads to say what bound a level."""

    admission_wait_s: float = 0.0
    admitted: int = 0
    slot_limited_s: float = 0.0
    """Time some request waited while every decode slot was taken."""
    kv_limited_s: float = 0.0
    """Time some request waited while slots were free but KV memory was not."""
    prefill_busy_s: float = 0.0
    decode_busy_s: float = 0.0
    prefill_gpu_s: float = 0.0
    decode_gpu_s: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generation_tokens: float = 0.0


_QUEUED = operator.attrgetter("pq_tokens")
FINISH_TOL = 1e-9
"""A sequence whose end the running count reaches within this has finished (float sums)."""


class _Instance:
    __slots__ = (
        "accept",
        "ahead",
        "budget",
        "busy",
        "cost",
        "ctx0",
        "energy",
        "engine",
        "finishing",
        "first_pending",
        "g",
        "idle_w",
        "index",
        "joining",
        "key",
        "kv_capacity",
        "kv_reserved",
        "marks",
        "n_dec",
        "pos",
        "power",
        "pq",
        "pq_tokens",
        "range_w",
        "ranks",
        "role",
        "slots",
        "step_end",
        "step_prefill",
        "step_start",
        "steps",
        "t_energy",
        "used_slots",
        "version",
    )

    def __init__(self, index: int, role: str, cost: PoolCost, engine: PoolEngine) -> None:
        self.index = index
        self.pos = 0
        """Place in the engine's instance list (ties between events go to the lower one)."""
        self.key = INF
        """Time of this instance's live entry in the engine's event heap (INF: none)."""
        self.version = 0
        """Version of that entry; an older entry in the heap is stale."""
        self.role = role  # "agg", "prefill" or "decode"
        self.cost = cost
        self.engine = engine
        self.ranks = cost.ranks
        pool = cost.pool
        self.slots = pool.max_batch_per_rank * cost.ranks
        self.kv_capacity = cost.kv_tokens_per_rank * cost.ranks
        self.budget = pool.max_batched_tokens * cost.ranks
        self.accept = cost.accept
        self.used_slots = 0
        self.kv_reserved = 0
        # decode state
        self.g = 0.0
        """Tokens every decoding sequence has gained since the instance started (its running
        count: a sequence joining at count g0 with k tokens to go ends when it reaches g0 + k)."""
        self.steps = 0
        """Decode steps so far: `g` after step s is `marks[s]` (less the tolerance)."""
        self.marks = [self.g + FINISH_TOL]
        """The running count after each decode step, plus the tolerance a sequence's end is
        compared with, computed ahead as far as some sequence's end needs."""
        self.ahead = self.g
        """The running count after the last step `marks` has reached."""
        self.finishing: dict[int, list[tuple[float, int, SimRequest]]] = {}
        """Decode step -> the sequences that end with it: (end count, request id, request)."""
        self.n_dec = 0
        self.ctx0 = 0.0
        self.joining: deque[tuple[float, SimRequest]] = deque()
        self.first_pending: list[SimRequest] = []
        # prefill state: [request, tokens left, context already computed]
        self.pq: deque[list[Any]] = deque()
        self.pq_tokens = 0
        self.step_prefill: list[tuple[list[Any], int]] = []
        # clock
        self.busy = False
        self.step_start = 0.0
        self.step_end = INF
        gpus = cost.gpus
        hw = cost.hw
        self.idle_w = hw.idle_w * gpus
        self.range_w = (hw.tdp_w - hw.idle_w) * gpus
        self.power = self.idle_w
        self.energy = 0.0
        self.t_energy = 0.0

    @property
    def n_decode(self) -> int:
        return self.n_dec

    def has_work(self, t: float) -> bool:
        return bool(self.n_dec or self.pq or (self.joining and self.joining[0][0] <= t))

    def next_time(self) -> float:
        if self.busy:
            return self.step_end
        if self.n_dec or self.pq:
            return self.engine.now_hint
        if self.joining:
            return max(self.engine.now_hint, self.joining[0][0])
        return INF

    def _set_power(self, t: float, watts: float) -> None:
        if t > self.t_energy:
            self.energy += (t - self.t_energy) * self.power
            self.t_energy = t
        self.power = watts

    def energy_at(self, t: float) -> float:
        return self.energy + max(0.0, t - self.t_energy) * self.power

    # -- one step ---------------------------------------------------------------------------

    def start_step(self, t: float) -> None:
        joining = self.joining
        while joining and joining[0][0] <= t:
            _, r = joining.popleft()
            self._join_decode(r)
        n = self.n_dec
        budget = self.budget - n * self.cost.q
        prefill = 0
        pairs = 0.0
        pctx = 0.0
        chosen: list[tuple[list[Any], int]] = []
        if self.role != "decode":
            for item in self.pq:
                if budget <= 0:
                    break
                take = min(item[1], budget)
                c = item[2]
                pairs += take * c + take * (take + 1) / 2
                pctx += c
                prefill += take
                budget -= take
                chosen.append((item, take))
        self.step_prefill = chosen
        if n == 0 and prefill == 0:
            self.busy = False
            self.step_end = INF
            self._set_power(t, self.idle_w)
            return
        ranks = self.ranks
        b = math.ceil(n / ranks) if n else 0
        ctx = (self.ctx0 + n * self.g) if n else 0.0
        duration, activity = self.cost.step_time(
            b, ctx * b / n if n else 0.0, prefill / ranks, pairs / ranks, pctx / ranks
        )
        self.busy = True
        self.step_start = t
        self.step_end = t + duration
        # the power this step draws (as _set_power, inline: this runs every step)
        if t > self.t_energy:
            self.energy += (t - self.t_energy) * self.power
            self.t_energy = t
        self.power = self.idle_w + self.range_w * activity

    def _join_decode(self, r: SimRequest) -> None:
        """r starts decoding now; its first token comes at the end of this step, its last at the
        end of the first step after which the running count reaches its end."""
        left = r.target - r.out
        end = self.g + left
        marks = self.marks
        if marks[-1] < end:
            accept = self.accept
            g = self.ahead
            while True:
                g += accept
                marks.append(g + FINISH_TOL)
                if marks[-1] >= end:
                    break
            self.ahead = g
        step = bisect.bisect_left(marks, end, self.steps + 1)
        ends = self.finishing.get(step)
        if ends is None:
            self.finishing[step] = [(end, r.rid, r)]
        else:
            ends.append((end, r.rid, r))
        self.n_dec += 1
        self.ctx0 += r.prompt_len + r.out - self.g
        if r.out == 0:
            self.first_pending.append(r)

    def end_step(self, t: float, finished: list[SimRequest]) -> None:
        eng = self.engine
        c = eng.c
        dt = t - self.step_start
        gpus = self.cost.gpus
        n = self.n_dec
        if n:
            c.decode_busy_s += dt
            c.decode_gpu_s += dt * gpus
        else:
            c.prefill_busy_s += dt
            c.prefill_gpu_s += dt * gpus
        if n:
            self.g += self.accept
            self.steps += 1
            c.generation_tokens += n * self.accept
            if self.first_pending:
                for r in self.first_pending:
                    r.t_first = t
                self.first_pending = []
            ends = self.finishing.pop(self.steps, None)
            if ends is not None:
                if len(ends) > 1:
                    ends.sort()
                done = len(ends)
                self.n_dec = n - done
                for key, _, r in ends:
                    held = r.prompt_len + r.target
                    self.ctx0 -= held - key
                    r.out = r.target
                    r.t_last = t
                    if r.t_first != r.t_first:  # NaN: no first token yet
                        r.t_first = t
                    # its slot and KV room are free (as release(), for each sequence that ends)
                    self.kv_reserved -= held
                    r.finished = True
                    finished.append(r)
                self.used_slots -= done
                eng.free_slots += done
                eng.capacity_freed = True
                if not self.n_dec:
                    self.ctx0 = 0.0
        for item, take in self.step_prefill:
            item[1] -= take
            item[2] += take
            self.pq_tokens -= take
        while self.pq and self.pq[0][1] <= 0:
            r = self.pq.popleft()[0]
            eng.prefill_done(self, r, t)
        self.step_prefill = []
        self.busy = False
        self.step_end = INF

    def release(self, r: SimRequest) -> None:
        self.used_slots -= 1
        self.kv_reserved -= r.prompt_len + r.target
        eng = self.engine
        eng.free_slots += 1
        eng.capacity_freed = True


class PoolEngine:
    """A recipe shape served on its pools of instances (see the module docstring)."""

    def __init__(self, shape: Shape, *, seed: int = 0) -> None:
        self.dep = shape
        self.shape = shape
        self.block = shape.block_size
        self.max_model_len = shape.model.max_model_len
        self._ids = itertools.count(1)
        dcost = shape.decode_cost
        role = "decode" if shape.disaggregated else "agg"
        self.decode = [_Instance(i, role, dcost, self) for i in range(shape.decode_instances)]
        pcost = shape.prefill_cost
        self.prefill = (
            [_Instance(i, "prefill", pcost, self) for i in range(shape.prefill_instances)]
            if pcost is not None
            else []
        )
        self.instances = self.decode + self.prefill
        for pos, inst in enumerate(self.instances):
            inst.pos = pos
        self._events: list[tuple[float, int, int]] = []
        """Heap of (time, instance position, version): each instance's next event."""
        self._dirty: list[_Instance] = []
        """Idle instances given work since their event was last scheduled (a busy one's next
        event is the end of its step, whatever it is given meanwhile)."""
        self.capacity_tokens = dcost.kv_tokens_per_rank * dcost.ranks
        self.free_slots = sum(i.slots for i in self.decode)
        """Decode batch slots free, over all decode instances."""
        self.waiting: deque[SimRequest] = deque()
        self.c = PoolCounters()
        self.now_hint = 0.0
        self.capacity_freed = False
        self._wait_mark = 0.0
        # prefix cache: conversation key -> (its last prompt's chain, blocks charged for it); LRU
        # order. A chain charges the blocks it does not share with the chain it was found beside.
        self.cache: OrderedDict[int, tuple[BlockRuns, int]] = OrderedDict()
        self.heads: dict[int, int] = {}
        """First block identity -> the conversation last cached with a prompt starting with it."""
        self.cache_blocks = 0
        offload = shape.spec.kv_offload_gb_per_gpu * 1e9
        src = self.prefill if self.prefill else self.decode
        per_gpu = src[0].cost.kv_token_bytes if src else 1.0
        hbm_tokens = sum(i.kv_capacity for i in src)
        off_tokens = (
            int(offload * sum(i.cost.gpus for i in src) / per_gpu / max(1, src[0].cost.attn_tp)) if src else 0
        )
        self.cache_capacity_blocks = (hbm_tokens + off_tokens) // self.block
        self.caching = shape.spec.prefix_caching
        self._finished_sink: list[SimRequest] = []
        del seed

    # -- requests ---------------------------------------------------------------------------

    def new_request(
        self,
        prompt_len: int,
        hashes: Sequence[int],
        t: float,
        *,
        max_tokens: int | None,
        min_tokens: int = 0,
        ignore_eos: bool = False,
        owner: Any = None,
        session: int | None = None,
    ) -> SimRequest:
        """`session` names the conversation the prompt continues (default: its first block)."""
        del min_tokens, ignore_eos  # replies run to max_tokens (the load generator asks for exact lengths)
        limit = self.max_model_len
        if prompt_len < 1:
            raise RequestRejected("the prompt is empty")
        if max_tokens is None:
            max_tokens = max(1, limit - prompt_len)
        if prompt_len + max_tokens > limit:
            raise RequestRejected(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{prompt_len + max_tokens} tokens ({prompt_len} in the messages, {max_tokens} in "
                f"the completion). Please reduce the length of the messages or completion."
            )
        if prompt_len + max_tokens > self.capacity_tokens:
            raise RequestRejected(
                f"the request needs {prompt_len + max_tokens} tokens of KV cache, more than one "
                f"decode instance holds ({self.capacity_tokens})"
            )
        runs = hashes if type(hashes) is BlockRuns else BlockRuns.of(hashes)
        # rid, prompt_len, hashes, target, finish_reason, t_arrival (positional: made per request)
        return SimRequest(
            next(self._ids), prompt_len, runs, max_tokens, "length", t, owner=owner, session=session
        )

    def submit(self, req: SimRequest, t: float) -> None:
        if t > self.now_hint:
            self.now_hint = t
        if t > self._wait_mark:
            self._account_wait(t)
        self.waiting.append(req)
        if self.free_slots:
            self._admit(t)

    def _account_wait(self, t: float) -> None:
        mark = self._wait_mark
        if t > mark:
            waiting = self.waiting
            if waiting:
                dt = t - mark
                c = self.c
                c.admission_wait_s += dt * len(waiting)
                if self.free_slots > 0:  # some instance has a slot: the request waits for KV room
                    c.kv_limited_s += dt
                else:
                    c.slot_limited_s += dt
            self._wait_mark = t

    def _admit(self, t: float) -> None:
        """Admit waiting requests, first come first served, while a decode instance has a free
        slot and KV room (the one with the most free slots, the first of equals), and queue each
        for its prefill: on the prefill instance with the least queued (the first of equals), or
        on its own decode instance when aggregated."""
        waiting = self.waiting
        decode = self.decode
        prefill = self.prefill
        c = self.c
        while waiting and self.free_slots:
            r = waiting[0]
            need = r.prompt_len + r.target
            best = None
            best_free = 0
            for inst in decode:
                free = inst.slots - inst.used_slots
                if free > best_free and inst.kv_reserved + need <= inst.kv_capacity:
                    best, best_free = inst, free
            if best is None:
                return
            waiting.popleft()
            best.used_slots += 1
            self.free_slots -= 1
            best.kv_reserved += need
            r.replica = best.index
            r.admitted = True
            r.t_admitted = t
            c.admitted += 1
            cached = self._lookup(r) if self.caching else 0
            r.cached_tokens = cached
            r.computed = cached
            c.prompt_tokens += r.prompt_len
            c.cached_tokens += cached
            inst = min(prefill, key=_QUEUED) if prefill else best
            left = r.prompt_len - cached
            inst.pq.append([r, left, cached])
            inst.pq_tokens += left
            if not inst.busy:  # a busy instance takes it up when its step ends
                self._dirty.append(inst)

    def _lookup(self, r: SimRequest) -> int:
        """Prompt tokens served from the prefix cache: the longest prefix the prompt shares with
        its conversation's cached prompt or with the latest cached prompt that starts with the
        same block (always leaving one token to compute)."""
        hashes = cast(BlockRuns, r.hashes)  # new_request keeps every prompt as runs
        if not hashes.length:
            return 0
        first = hashes.first
        own = first if r.session is None else r.session
        cache = self.cache
        best, best_key = 0, None
        hit = cache.get(own)
        if hit is not None:
            n = common_prefix(hashes, hit[0])
            if n > 0:
                best, best_key = n, own
        other = self.heads.get(first)
        if other is not None and other != own and (hit := cache.get(other)) is not None:
            n = common_prefix(hashes, hit[0])
            if n > best:
                best, best_key = n, other
        if best_key is None:
            return 0
        cache.move_to_end(best_key)
        return min(best * self.block, r.prompt_len - 1)

    def _remember(self, r: SimRequest) -> None:
        hashes = cast(BlockRuns, r.hashes)
        if not hashes.length:
            return
        first = hashes.first
        key = first if r.session is None else r.session
        cache, heads = self.cache, self.heads
        blocks = self.cache_blocks
        old = cache.pop(key, None)
        if old is not None:
            blocks -= old[1]
        shared = 0
        other = heads.get(first)
        if other is not None and other != key and (beside := cache.get(other)) is not None:
            shared = common_prefix(hashes, beside[0])
        n = hashes.length - shared
        cache[key] = (hashes, n)
        heads[first] = key
        blocks += n
        cap = self.cache_capacity_blocks
        while blocks > cap and cache:
            gone, (chain, b) = cache.popitem(last=False)
            blocks -= b
            if chain.length and heads.get(chain.first) == gone:
                del heads[chain.first]
        self.cache_blocks = blocks

    def prefill_done(self, inst: _Instance, r: SimRequest, t: float) -> None:
        if self.caching:
            self._remember(r)
        dec = self.decode[r.replica]
        if inst.role == "agg":
            # the step that completes the prompt emits the first token
            r.out = 1
            r.t_first = t
            r.t_last = t
            if r.out >= r.target:
                inst.release(r)
                self.finish(r, self._finished_sink)
                return
            dec.joining.append((t, r))
            if not dec.busy:
                self._dirty.append(dec)
            return
        ready = t + inst.cost.kv_transfer_s(r.prompt_len, dec.cost)
        dq = dec.joining
        if dq and dq[-1][0] > ready:
            # keep the queue ordered by ready time (transfers finish in order of their start)
            ready = dq[-1][0]
        dq.append((ready, r))
        if not dec.busy:
            self._dirty.append(dec)

    def finish(self, r: SimRequest, finished: list[SimRequest]) -> None:
        r.finished = True
        finished.append(r)

    def abort(self, req: SimRequest, t: float) -> None:
        raise NotImplementedError("the rack-scale engine does not serve HTTP clients that go away")

    # -- clock ------------------------------------------------------------------------------

    def _schedule(self, inst: _Instance) -> None:
        """Put inst's next event in the heap if it moved (the old entry goes stale)."""
        nt = inst.next_time()
        if nt != inst.key:
            inst.key = nt
            inst.version += 1
            if nt < INF:
                heapq.heappush(self._events, (nt, inst.pos, inst.version))

    def _flush_dirty(self) -> None:
        dirty = self._dirty
        while dirty:
            self._schedule(dirty.pop())

    def _top(self) -> tuple[float, int, int] | None:
        """The earliest live event (stale entries dropped), left in the heap."""
        self._flush_dirty()
        events = self._events
        insts = self.instances
        while events:
            ev = events[0]
            if insts[ev[1]].version == ev[2]:
                return ev
            heapq.heappop(events)
        return None

    def next_time(self) -> float:
        if self._dirty:
            self._flush_dirty()
        events = self._events
        insts = self.instances
        while events:
            ev = events[0]
            if insts[ev[1]].version == ev[2]:
                return ev[0]
            heapq.heappop(events)
        return INF

    def run_until(self, t: float, emitted: list[SimRequest] | None = None) -> list[SimRequest]:
        """Run every event up to time t, in time order (ties: decode instances first, then
        prefill, each in index order); return the requests that finished."""
        finished = self._run(INF, t, stop_on_finish=False)
        self._account_wait(t)
        self.now_hint = max(self.now_hint, t)
        return finished

    def run_before(self, bound: float, until: float) -> list[SimRequest]:
        """Run the events before `bound` and not after `until`, one event time after another,
        until some request finishes (the caller answers it before time moves on): the same as
        calling `run_until` at each of those times in turn, without the round trips."""
        return self._run(bound, until, stop_on_finish=True)

    def _run(self, bound: float, until: float, *, stop_on_finish: bool) -> list[SimRequest]:
        finished: list[SimRequest] = []
        self._finished_sink = finished
        insts = self.instances
        events = self._events
        dirty = self._dirty
        top = self._top
        while True:
            ev = top()
            if ev is None or ev[0] > until or ev[0] >= bound:
                break
            bt = ev[0]
            if bt > self.now_hint:
                self.now_hint = bt
            # every event at this time, as one run_until(bt) would take them
            while ev is not None and ev[0] == bt:
                heapq.heappop(events)
                best = insts[ev[1]]
                best.key = INF
                if best.busy:
                    best.end_step(bt, finished)
                    if self.capacity_freed:
                        self.capacity_freed = False
                        if bt > self._wait_mark:
                            self._account_wait(bt)
                        if self.waiting:
                            self._admit(bt)
                best.start_step(bt)
                # reschedule it (as _schedule, inline: this runs every step)
                nt = best.next_time()
                if nt < INF:
                    best.key = nt
                    best.version += 1
                    heapq.heappush(events, (nt, best.pos, best.version))
                # the next live event (as _top, inline)
                if dirty:
                    self._flush_dirty()
                ev = None
                while events:
                    ev = events[0]
                    if insts[ev[1]].version == ev[2]:
                        break
                    heapq.heappop(events)
                    ev = None
            if stop_on_finish:
                if bt > self._wait_mark:
                    self._account_wait(bt)
                if finished:
                    break
        return finished

    # -- observation ------------------------------------------------------------------------

    def energy_j(self, t: float) -> float:
        return sum(i.energy_at(t) for i in self.instances)

    def power_w(self) -> float:
        return sum(i.power for i in self.instances)

    @property
    def running(self) -> int:
        return sum(i.used_slots for i in self.decode)

    @property
    def slots(self) -> int:
        return sum(i.slots for i in self.decode)
