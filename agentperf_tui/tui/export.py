"""Export a stored run as JSON, CSV files and an HTML report, off the UI loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

from agentperf_tui.core.report.html import write_report
from agentperf_tui.core.store import export_csv, export_dir, export_json, load_run
from agentperf_tui.tui.screens.prompt import PromptScreen


def export_all(store: Path, run_id: str, out_dir: Path) -> list[Path]:
    """<out_dir>/<run id>.json, <out_dir>/csv/*.csv and <out_dir>/report.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [export_json(store, run_id, out_dir)]
    written.extend(export_csv(store, run_id, out_dir / "csv"))
    written.append(write_report(load_run(store, run_id), out_dir / "report.html"))
    return written


def ask_export(app: App[Any], run_id: str, store: Path) -> None:
    default = str(export_dir(store, run_id))

    def chosen(value: str | None) -> None:
        if not value:
            return
        out = Path(value).expanduser()

        def work() -> None:
            paths = export_all(store, run_id, out)
            app.call_from_thread(
                app.notify,
                f"{len(paths)} files in {out}\n(report.html, {run_id}.json, csv/)",
                title="Exported",
            )

        app.run_worker(work, thread=True, exit_on_error=False, name=f"export {run_id}", group="export")

    app.push_screen(
        PromptScreen(f"Export run {run_id}", "Folder for JSON, CSV and the HTML report", default), chosen
    )
