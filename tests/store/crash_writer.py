"""Child process for the crash test: writes requests steadily, then SIGKILLs itself.

Usage: python crash_writer.py STORE KILL_AFTER_S
Prints the run id, then "KILL <requests handed over> <seconds since start>" just before the
kill. Each request's t_end is the moment it was handed to the store (seconds since start).
"""

from __future__ import annotations

import os
import signal
import sys
import time

from agentperf_tui.core.records import RequestResult
from agentperf_tui.core.store import RunStore


def main() -> None:
    store_path, kill_after = sys.argv[1], float(sys.argv[2])
    store = RunStore(store_path)
    run_id = store.create_run(
        config={"purpose": "crash test"}, endpoint="http://127.0.0.1:9/v1", model="m",
        simulated=True, started_wall=time.time(),
    )  # fmt: skip
    print(run_id, flush=True)
    t0 = time.monotonic()
    handed = 0
    while True:
        now = time.monotonic() - t0
        if now >= kill_after:
            print(f"KILL {handed} {now:.6f}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        batch = [
            RequestResult(
                agent_id=handed + k, trajectory_id="t", replay=0, turn=handed + k, t_intended=now,
                t_sent=now, t_end=now, ok=True, t_first_token=now, t_last_token=now,
                output_tokens=10, client_output_tokens=10, requested_output_tokens=10,
            )
            for k in range(5)
        ]  # fmt: skip
        store.add_requests(run_id, batch, level=0 if now < kill_after / 2 else 1)
        handed += len(batch)
        time.sleep(0.01)


if __name__ == "__main__":
    main()
