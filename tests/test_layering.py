"""The layering contracts of pyproject.toml ([tool.importlinter]) hold: the measuring core is
reachable without the console, the console does not drive HTTP streams or the simulator itself,
and the run store and run summaries know nothing of the search or the engine."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

from importlinter.cli import lint_imports

import agentperf_tui

ROOT = Path(agentperf_tui.__file__).parents[1]
CORE = Path(agentperf_tui.__file__).parent / "core"


def test_import_contracts_are_kept() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = out.getvalue()
    assert code == 0, report
    assert "4 kept, 0 broken" in report, report


def test_importing_every_core_module_loads_no_textual() -> None:
    mods = sorted(
        "agentperf_tui." + ".".join(p.relative_to(CORE.parent).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
