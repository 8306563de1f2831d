"""What the exit status of `run --headless` and `search --headless` tells a script.

| code | meaning |
|---|---|
| 0 | the run finished and its figures can be trusted |
| 1 | the run could not be done, or not to its end (endpoint unreachable, store unwritable or |
|   | full, engine error); a run that stopped part-way still prints its summary |
| 2 | configuration or argument error: nothing was run (a bad flag, trajectory file, API key or |
|   | model name, a --store file that is not a readable run store) |
| 3 | the run finished, but its figures are not to be trusted as they are: not comparable, more |
|   | than 5% of its requests failed, or an incident (a load worker ended...); stderr says which |
| 4 | the run was aborted (signal, operator): what was measured is stored and printed |
"""

from __future__ import annotations

from agentperf_tui.core.engine.config import ConfigError
from agentperf_tui.core.store.errors import SchemaVersionError, StoreUnreadableError
from agentperf_tui.core.summary.model import RunSummary

OK = 0
RUN_FAILED = 1
CONFIG_ERROR = 2
NOT_TRUSTWORTHY = 3
ABORTED = 4

FAILURE_SHARE_LIMIT = 0.05


def for_error(e: BaseException) -> int:
    """The status of a run that ended in an error before its summary: CONFIG_ERROR when the fix is
    in what was asked for (settings, input files, the store file named), else RUN_FAILED."""
    named_store_unusable = isinstance(e, StoreUnreadableError | SchemaVersionError)
    return CONFIG_ERROR if isinstance(e, ConfigError | ValueError) or named_store_unusable else RUN_FAILED


def untrustworthy(summary: RunSummary) -> list[str]:
    """Why a finished run's figures cannot be taken as they are (empty: they can)."""
    reasons = [f"not comparable: {r}" for r in summary.comparability] if not summary.comparable else []
    reasons += list(summary.incidents)
    done = summary.requests.ok + summary.requests.failed
    if done and summary.requests.failed / done > FAILURE_SHARE_LIMIT:
        share = summary.requests.failed / done
        reasons.append(f"{share:.1%} of the requests failed (more than {FAILURE_SHARE_LIMIT:.0%})")
    return reasons


def exit_code(summary: RunSummary) -> int:
    if summary.status == "failed":  # it could not go on (its store full or unwritable): not an abort
        return RUN_FAILED
    if summary.status != "finished":
        return ABORTED
    return NOT_TRUSTWORTHY if untrustworthy(summary) else OK
