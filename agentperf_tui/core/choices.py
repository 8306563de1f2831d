"""What the setup screen offers: SLO tiers, hardware and model profiles, trajectory sets.

Read from the profile folders (see core/data_paths.py) and the trajectory folder. A
folder that cannot be read gives an empty list and a reason, shown on the setup screen: the
operator can still type a custom tier (S/T) or a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentperf_tui.core.data_paths import profiles_dir, resolve_trajectories
from agentperf_tui.core.tiers import fmt_num, load_tier_sets


@dataclass(frozen=True, slots=True)
class Choices:
    tiers: list[tuple[str, str]] = field(default_factory=list)
    """(label, tier spec) pairs: each family version as one entry (all its tiers, judged on the
    same levels), followed by its single tiers."""
    hardware: list[str] = field(default_factory=list)
    sim_models: list[str] = field(default_factory=list)
    trajectories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _profile_names(kind: str, problems: list[str]) -> list[str]:
    try:
        folder = profiles_dir() / kind
    except FileNotFoundError as e:
        problems.append(str(e))
        return []
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def _trajectory_sets(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.is_dir() or p.suffix in (".jsonl", ".gz", ".zst"):
            out.append(f"trajectories/{p.name}")
    return out


def load_choices() -> Choices:
    problems: list[str] = []
    tiers: list[tuple[str, str]] = []
    try:
        for s in load_tier_sets():
            family = f"{s.family}@{s.version}"
            if len(s.tiers) > 1:
                tiers.append((f"{family}  all {len(s.tiers)} tiers", family))
            for t in s.tiers:
                tiers.append((f"{family}  {fmt_num(t.speed_tok_s)} tok/s · {fmt_num(t.ttft_s)} s", t.name))
    except (OSError, ValueError) as e:
        problems.append(f"SLO tiers: {e}")
    return Choices(
        tiers=tiers,
        hardware=_profile_names("hardware", problems),
        sim_models=_profile_names("models", problems),
        trajectories=_trajectory_sets(resolve_trajectories("trajectories")),
        problems=problems,
    )
