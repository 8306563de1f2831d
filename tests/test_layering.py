"""The measuring core is reachable without the TUI: nothing under agentperf_tui.core imports textual."""

import ast
import subprocess
import sys
from pathlib import Path

import agentperf_tui

CORE = Path(agentperf_tui.__file__).parent / "core"


def test_no_core_module_names_textual_in_an_import() -> None:
    offenders = []
    for py in sorted(CORE.rglob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"), filename=str(py))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{py.relative_to(CORE.parent)}:{node.lineno} imports {n}"
                for n in names
                if n == "textual" or n.startswith(("textual.", "agentperf_tui.tui"))
            ]
    assert offenders == []


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
