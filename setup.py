"""Build hook: ship the project's data (profiles/, trajectories/) inside the package.

`profiles/` and `trajectories/` at the repository root stay the single source; a wheel or a
regular install gets a copy under agentperf_tui/data/, where core/data_paths.py looks last.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        for name in ("profiles", "trajectories"):
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, Path(self.build_lib) / "agentperf_tui" / "data" / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithData})
