"""Where the profile data (hardware, models, SLO tiers) lives.

Lookup order: `$AGENTPERF_PROFILES` when set, then the `profiles/` folder of a source checkout
(the repository root), then the copy shipped inside the package (`agentperf_tui/data/profiles`).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AGENTPERF_PROFILES"

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The `agentperf_tui` package folder."""


def profile_dir_candidates() -> list[Path]:
    """Every place looked at, in order (shown in errors when none holds profiles)."""
    out: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        out.append(Path(env).expanduser())
    out.append(_PACKAGE_ROOT.parent / "profiles")
    out.append(_PACKAGE_ROOT / "data" / "profiles")
    return out


def profiles_dir() -> Path:
    """The first candidate folder that exists.

    Raises FileNotFoundError listing every folder tried, and how to point at one.
    """
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).expanduser().is_dir():
        raise FileNotFoundError(f"{ENV_VAR}={env} is not a folder; point it at a folder holding slo/")
    tried = profile_dir_candidates()
    for p in tried:
        if p.is_dir():
            return p
    listed = ", ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"no profiles folder found (tried {listed}); set {ENV_VAR} to a folder holding "
        "hardware/, models/ and slo/"
    )
