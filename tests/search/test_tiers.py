"""SLO tier profiles: the published data, custom tiers, resolution by name, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentperf_tui.core import data_paths as profile_paths
from agentperf_tui.core.tiers import (
    SloProfileError,
    TierSpecError,
    all_tiers,
    custom_tier,
    load_tier_file,
    load_tier_sets,
    parse_tier,
)

REPO_SLO = Path(__file__).resolve().parents[2] / "profiles" / "slo"


def _pairs(family: str, version: str) -> list[tuple[float, float]]:
    tiers = all_tiers(REPO_SLO)
    return [(t.speed_tok_s, t.ttft_s) for t in tiers if t.family == family and t.version == version]


def test_published_tiers_are_the_documented_figures() -> None:
    assert _pairs("deepseek-v4-pro", "2026-06") == [(30, 10), (100, 5), (300, 3)]
    assert _pairs("deepseek-v4-pro", "rev1") == [(20, 10), (60, 5), (180, 3)]
    assert _pairs("gpt-oss-120b", "rev1") == [(100, 5), (250, 3), (500, 2), (2000, 1)]
    for s in load_tier_sets(REPO_SLO):
        assert s.source and s.version
    launch = next(s for s in load_tier_sets(REPO_SLO) if s.version == "2026-06")
    assert launch.date == "2026-06-12"


def test_names_and_resolution() -> None:
    t = parse_tier("deepseek-v4-pro@2026-06/100-5", REPO_SLO)
    assert t.name == "deepseek-v4-pro@2026-06/100-5"
    assert (t.speed_tok_s, t.ttft_s) == (100, 5)
    assert "2026-06-12" in t.provenance()
    # without a version: the newest version of the family holding that tier
    assert parse_tier("deepseek-v4-pro/20-10", REPO_SLO).version == "rev1"
    assert parse_tier("deepseek-v4-pro/30-10", REPO_SLO).version == "2026-06"
    c = parse_tier("50/4")
    assert c.custom and c.name == "custom/50-4" and (c.speed_tok_s, c.ttft_s) == (50, 4)
    assert parse_tier("12.5/0.8").name == "custom/12.5-0.8"
    assert parse_tier("custom/50-4") == c
    assert custom_tier(50, 4) == c
    assert "P25 output speed >= 50 tok/s" in c.describe()


@pytest.mark.parametrize("spec", ["fast", "50/", "deepseek-v4-pro@2026-06/99-5", "nosuch/1-2", "0/4"])
def test_bad_tier_specs_say_what_is_known(spec: str) -> None:
    with pytest.raises(TierSpecError) as e:
        parse_tier(spec, REPO_SLO)
    msg = str(e.value)
    assert "S/T" in msg or "positive" in msg


def test_unknown_name_lists_known_tiers() -> None:
    with pytest.raises(TierSpecError, match="deepseek-v4-pro@2026-06/100-5"):
        parse_tier("deepseek-v4-pro@2026-06/99-5", REPO_SLO)


GOOD = """
schema = "agentperf-slo/1"
family = "m"
model = "M"
version = "v1"
source = "somewhere"
[[tier]]
speed_tok_s = 10
ttft_s = 2
"""


def test_bad_files_name_file_and_field(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text(GOOD.replace("ttft_s = 2", "ttft_s = -2"))
    with pytest.raises(SloProfileError) as e:
        load_tier_file(f)
    assert e.value.path == str(f) and e.value.field == "tier[0].ttft_s"
    assert str(f) in str(e.value)

    f.write_text(GOOD.replace('source = "somewhere"\n', ""))
    with pytest.raises(SloProfileError) as e:
        load_tier_file(f)
    assert e.value.field == "source" and "missing" in str(e.value)

    f.write_text(GOOD + "colour = 'red'\n")
    with pytest.raises(SloProfileError, match="colour"):
        load_tier_file(f)

    f.write_text("schema = ")
    with pytest.raises(SloProfileError, match="malformed TOML"):
        load_tier_file(f)

    f.write_text(GOOD + "[[tier]]\nspeed_tok_s = 10\nttft_s = 2\n")
    with pytest.raises(SloProfileError, match="duplicate tier 10/2") as e:
        load_tier_file(f)
    assert e.value.field == "tier[1]"


def test_folder_level_checks(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    (tmp_path / "b.toml").write_text(GOOD)
    with pytest.raises(SloProfileError, match="also defined in"):
        load_tier_sets(tmp_path)
    (tmp_path / "b.toml").write_text(GOOD.replace('"v1"', '"v2"\nsupersedes = "v0"'))
    with pytest.raises(SloProfileError) as e:
        load_tier_sets(tmp_path)
    assert e.value.field == "supersedes"
    (tmp_path / "b.toml").write_text(GOOD.replace('"v1"', '"v2"\nsupersedes = "v1"'))
    sets = load_tier_sets(tmp_path)
    assert [s.version for s in sets] == ["v2", "v1"]


def test_profiles_dir_checkout_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(profile_paths.ENV_VAR, raising=False)
    assert profile_paths.profiles_dir() == REPO_SLO.parent
    monkeypatch.setenv(profile_paths.ENV_VAR, str(tmp_path))
    assert profile_paths.profiles_dir() == tmp_path
    monkeypatch.setenv(profile_paths.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=profile_paths.ENV_VAR):
        profile_paths.profiles_dir()
