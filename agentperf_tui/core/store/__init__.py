"""Crash-safe run store: SQLite (WAL) written by a background thread, read back as arrays.

Write with `RunStore`; read with `list_runs`, `load_run`, `export_json`, `export_csv`,
`compare_runs`. The file is `default_store_path()` unless told otherwise.
"""

from agentperf_tui.core.store.annotate import annotate_run
from agentperf_tui.core.store.compare import RunFigures, comparability, compare_runs, material, run_figures
from agentperf_tui.core.store.errors import (
    SchemaVersionError,
    StoreClosedError,
    StoreError,
    StoreNotFoundError,
    StoreUnreadableError,
    StoreWriteError,
    UnknownRunError,
)
from agentperf_tui.core.store.export import export_csv, export_json
from agentperf_tui.core.store.models import (
    INCOMPLETE,
    Annotation,
    Difference,
    RequestTable,
    RunData,
    RunInfo,
    ServerMetricsTable,
    TelemetryTable,
)
from agentperf_tui.core.store.paths import STORE_ENV, default_store_path, export_dir
from agentperf_tui.core.store.reader import list_runs, load_run, resolve_run_id
from agentperf_tui.core.store.schema import SCHEMA_VERSION
from agentperf_tui.core.store.writer import RunStore, StoreStatus

__all__ = [
    "INCOMPLETE",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "Annotation",
    "Difference",
    "RequestTable",
    "RunData",
    "RunFigures",
    "RunInfo",
    "RunStore",
    "SchemaVersionError",
    "ServerMetricsTable",
    "StoreClosedError",
    "StoreError",
    "StoreNotFoundError",
    "StoreStatus",
    "StoreUnreadableError",
    "StoreWriteError",
    "TelemetryTable",
    "UnknownRunError",
    "annotate_run",
    "comparability",
    "compare_runs",
    "default_store_path",
    "export_csv",
    "export_dir",
    "export_json",
    "list_runs",
    "load_run",
    "material",
    "resolve_run_id",
    "run_figures",
]
