"""Where the project's data lives: profiles (hardware, models, SLO tiers) and trajectory sets.

Profiles: `$AGENTPERF_PROFILES` when set, then the `profiles/` folder of a source checkout (the
repository root), then the copy shipped inside the package (`agentperf_tui/data/profiles`).
Trajectories: a path as given, then the checkout's `trajectories/`, then the shipped copy
(`agentperf_tui/data/trajectories`). setup.py copies both into the package when it is built.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AGENTPERF_PROFILES"

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
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


def resolve_trajectories(name: str | Path) -> Path:
    """A trajectory file or folder: as given (relative to the working folder), else the same
    relative path in the checkout, else in the package's shipped copy. Unfound: returned as given."""
    p = Path(name).expanduser()
    if p.exists() or p.is_absolute():
        return p
    for base in (_PACKAGE_ROOT.parent, _PACKAGE_ROOT / "data"):
        alt = base / p
        if alt.exists():
            return alt
    return p
