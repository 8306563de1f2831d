"""SLO tiers: versioned data in `profiles/slo/*.toml`, plus custom tiers typed by the operator.

A tier holds at a concurrency level when, over the level's measured window,
P25 of per-request output speed >= `speed_tok_s` AND P95 of per-request TTFT <= `ttft_s`.

Names: `family@version/S-T` (e.g. `deepseek-v4-pro@2026-06/100-5`) for published tiers,
`custom/S-T` for tiers given on the command line as `S/T` (e.g. `--tier 50/4`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentperf_tui.core.data_paths import profiles_dir

SCHEMA = "agentperf-slo/1"
SPEED_QUANTILE = 0.25
TTFT_QUANTILE = 0.95

_NUM = r"\d+(?:\.\d+)?"
CUSTOM_TIER_RE = re.compile(rf"^\s*({_NUM})\s*/\s*({_NUM})\s*$")
_NAMED_RE = re.compile(rf"^([a-z0-9][a-z0-9._-]*)(?:@([A-Za-z0-9][A-Za-z0-9._-]*))?/({_NUM})-({_NUM})$")


def fmt_num(x: float) -> str:
    """30.0 -> "30", 2.5 -> "2.5" (the form used in tier names)."""
    return f"{x:g}"


class SloProfileError(ValueError):
    """A tier profile file is unusable; the message names the file and the field."""

    def __init__(self, path: Path | str, field: str | None, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.reason = message
        where = self.path + (f" (field '{field}')" if field else "")
        super().__init__(f"{where}: {message}")


class TierSpecError(ValueError):
    """A tier given by name or as S/T could not be resolved; the message lists what is known."""


@dataclass(frozen=True, slots=True)
class SloTier:
    """One SLO tier: P25 output speed floor and P95 TTFT limit, with where it comes from."""

    speed_tok_s: float
    ttft_s: float
    family: str | None = None
    version: str | None = None
    date: str | None = None
    """ISO date of publication, None when the source does not state it."""
    source: str | None = None
    url: str | None = None
    label: str | None = None

    speed_quantile: ClassVar[float] = SPEED_QUANTILE
    ttft_quantile: ClassVar[float] = TTFT_QUANTILE

    @property
    def custom(self) -> bool:
        return self.family is None

    @property
    def name(self) -> str:
        sd = f"{fmt_num(self.speed_tok_s)}-{fmt_num(self.ttft_s)}"
        if self.family is None:
            return f"custom/{sd}"
        # a family without a version names the newest version holding S-T (see parse_tier)
        return f"{self.family}@{self.version}/{sd}" if self.version else f"{self.family}/{sd}"

    def describe(self) -> str:
        s, t = fmt_num(self.speed_tok_s), fmt_num(self.ttft_s)
        return f"P25 output speed >= {s} tok/s and P95 TTFT <= {t} s"

    def criteria(self) -> str:
        """The two criteria in short: "P25 ≥ 100 tok/s, P95 TTFT ≤ 5 s"."""
        return f"P25 ≥ {fmt_num(self.speed_tok_s)} tok/s, P95 TTFT ≤ {fmt_num(self.ttft_s)} s"

    def provenance(self) -> str:
        if self.custom:
            return "custom tier"
        date = self.date or "date not stated"
        return f"{self.source} ({date})"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "speed_tok_s": self.speed_tok_s,
            "ttft_s": self.ttft_s,
            "speed_quantile": SPEED_QUANTILE,
            "ttft_quantile": TTFT_QUANTILE,
            "family": self.family,
            "version": self.version,
            "date": self.date,
            "source": self.source,
            "url": self.url,
        }


def custom_tier(speed_tok_s: float, ttft_s: float) -> SloTier:
    """A tier typed by the operator (command line `--tier S/T` or the setup screen)."""
    if not (speed_tok_s > 0 and ttft_s > 0) or speed_tok_s == float("inf") or ttft_s == float("inf"):
        raise TierSpecError(
            f"a custom tier needs a positive, finite speed floor and TTFT limit; got {speed_tok_s}/{ttft_s}"
        )
    return SloTier(speed_tok_s=float(speed_tok_s), ttft_s=float(ttft_s))


# --- profile files -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TierEntry(_Strict):
    speed_tok_s: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    ttft_s: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    label: str | None = None


class _TierFile(_Strict):
    schema_: Literal["agentperf-slo/1"] = Field(alias="schema")
    family: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    model: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    date: dt.date | None = None
    source: Annotated[str, Field(min_length=1)]
    url: str | None = None
    note: str | None = None
    supersedes: str | None = None
    tier: Annotated[list[_TierEntry], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class TierSet:
    """The tiers of one model family at one published version (one profile file)."""

    family: str
    model: str
    version: str
    source: str
    tiers: tuple[SloTier, ...]
    path: str
    date: str | None = None
    url: str | None = None
    note: str | None = None
    supersedes: str | None = None


def load_tier_file(path: Path | str) -> TierSet:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise SloProfileError(p, None, f"cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise SloProfileError(p, None, "not UTF-8 text; re-encode the file as UTF-8") from e
    except tomllib.TOMLDecodeError as e:
        raise SloProfileError(p, None, f"malformed TOML: {e}") from e
    try:
        f = _TierFile.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ())) or None
        msg = str(first.get("msg", "invalid value"))
        if first.get("type") == "missing":
            msg = "required field is missing"
        if loc is not None and loc.startswith("tier."):
            loc = "tier[" + loc[5:].replace(".", "].", 1)
        raise SloProfileError(p, loc, msg) from e
    seen: set[tuple[float, float]] = set()
    tiers: list[SloTier] = []
    for i, t in enumerate(f.tier):
        key = (t.speed_tok_s, t.ttft_s)
        if key in seen:
            raise SloProfileError(
                p, f"tier[{i}]", f"duplicate tier {fmt_num(key[0])}/{fmt_num(key[1])}; remove one of them"
            )
        seen.add(key)
        tiers.append(
            SloTier(
                speed_tok_s=t.speed_tok_s,
                ttft_s=t.ttft_s,
                family=f.family,
                version=f.version,
                date=f.date.isoformat() if f.date else None,
                source=f.source,
                url=f.url,
                label=t.label,
            )
        )
    return TierSet(
        family=f.family,
        model=f.model,
        version=f.version,
        source=f.source,
        tiers=tuple(tiers),
        path=str(p),
        date=f.date.isoformat() if f.date else None,
        url=f.url,
        note=f.note,
        supersedes=f.supersedes,
    )


def slo_dir() -> Path:
    return profiles_dir() / "slo"


def load_tier_sets(folder: Path | str | None = None) -> list[TierSet]:
    """Every `*.toml` in the SLO folder, newest version of each family first. Read once and kept
    until a file in the folder is added, removed or changed."""
    d = Path(folder) if folder is not None else slo_dir()
    if not d.is_dir():
        raise SloProfileError(d, None, "SLO profile folder not found")
    files = tuple(sorted(d.glob("*.toml")))
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return list(_load_sets(d, stamp))


@functools.lru_cache(maxsize=8)
def _load_sets(d: Path, stamp: tuple[tuple[str, int, int], ...]) -> tuple[TierSet, ...]:
    sets = [load_tier_file(name) for name, _, _ in stamp]
    by_key: dict[tuple[str, str], TierSet] = {}
    for s in sets:
        key = (s.family, s.version)
        if key in by_key:
            raise SloProfileError(
                s.path, "version", f"{s.family}@{s.version} is also defined in {by_key[key].path}"
            )
        by_key[key] = s
    for s in sets:
        if s.supersedes is not None and (s.family, s.supersedes) not in by_key:
            raise SloProfileError(
                s.path, "supersedes", f"no profile {s.family}@{s.supersedes} in {d} to supersede"
            )
    return tuple(sorted(sets, key=lambda s: (s.family, -_generation(s, by_key), s.version)))


def _generation(s: TierSet, by_key: dict[tuple[str, str], TierSet]) -> int:
    """How many versions this one supersedes, following the chain (0 for an original)."""
    n, cur, seen = 0, s, {s.version}
    while cur.supersedes is not None:
        nxt = by_key.get((cur.family, cur.supersedes))
        if nxt is None or nxt.version in seen:
            break
        seen.add(nxt.version)
        n, cur = n + 1, nxt
    return n


def all_tiers(folder: Path | str | None = None) -> list[SloTier]:
    return [t for s in load_tier_sets(folder) for t in s.tiers]


def parse_tier(spec: str, folder: Path | str | None = None) -> SloTier:
    """Resolve a tier from `S/T` (custom), `family@version/S-T`, or `family/S-T` (newest version
    of that family holding the tier). Raises TierSpecError naming the known tiers."""
    text = spec.strip()
    m = CUSTOM_TIER_RE.match(text)
    if m:
        return custom_tier(float(m.group(1)), float(m.group(2)))
    if text.startswith("custom/"):
        m2 = re.match(rf"^custom/({_NUM})-({_NUM})$", text)
        if m2:
            return custom_tier(float(m2.group(1)), float(m2.group(2)))
    m = _NAMED_RE.match(text)
    if not m:
        raise TierSpecError(
            f"tier {spec!r} not understood: use S/T for a custom tier "
            "(P25 speed >= S tok/s, P95 TTFT <= T s, e.g. 50/4) "
            "or a published name such as deepseek-v4-pro@2026-06/100-5"
        )
    family, version, s, t = m.group(1), m.group(2), float(m.group(3)), float(m.group(4))
    tiers = all_tiers(folder)
    for tier in tiers:  # newest version first within a family
        if tier.family != family or (version is not None and tier.version != version):
            continue
        if tier.speed_tok_s == s and tier.ttft_s == t:
            return tier
    known = ", ".join(t.name for t in tiers) or "none"
    raise TierSpecError(f"no published tier {spec!r}; known tiers: {known}; or give a custom tier as S/T")

