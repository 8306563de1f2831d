"""Hardware/model profiles: the shipped data loads, deployments derive sound figures, errors name
the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentperf_tui.core.simulator.profiles import (
    ProfileError,
    list_profiles,
    load_deployment,
    load_hardware,
    load_model,
    profile_dirs,
)

REQUIRED_HARDWARE = {"h100-sxm", "h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"}
REQUIRED_MODELS = {"deepseek-v4-pro", "gpt-oss-120b", "llama-3.3-70b"}


def test_required_profiles_are_shipped_and_cite_sources() -> None:
    assert set(list_profiles("hardware")) >= REQUIRED_HARDWARE
    assert set(list_profiles("models")) >= REQUIRED_MODELS
    for kind in ("hardware", "models"):
        for f in (profile_dirs()[0] / kind).glob("*.toml"):
            text = f.read_text()
            assert "http" in text and "Source" in text, f"{f} must cite its public sources"


@pytest.mark.parametrize("hw", sorted(REQUIRED_HARDWARE))
@pytest.mark.parametrize("model", sorted(REQUIRED_MODELS))
def test_every_default_deployment_fits_and_leaves_kv_room(hw: str, model: str) -> None:
    dep = load_deployment(hw, model)
    assert dep.replicas == 1
    assert dep.gpus_per_replica & (dep.gpus_per_replica - 1) == 0, "a power of two"
    # the weights fit, with at least a third of usable memory left to the KV cache
    assert dep.kv_pool_bytes > 0.2 * dep.hardware.hbm_gb * 1e9 * dep.gpus_per_replica
    assert dep.kv_capacity_tokens >= 4096


def test_kv_capacity_matches_hand_arithmetic() -> None:
    dep = load_deployment("h100-sxm", "llama-3.3-70b", gpus_per_replica=2)
    usable = 2 * 80e9 * 0.9 - 2 * 2e9  # memory utilisation, activation reserve
    kv = usable - 70.6e9  # FP8 weights
    per_block = 327_680 * 16  # BF16 KV of 80 layers x 8 heads x 128 dims, 16-token blocks
    assert dep.num_blocks == int(kv // per_block)
    assert dep.gpu_count == 2


def test_moe_weight_bytes_split_experts_from_the_rest() -> None:
    m = load_model("gpt-oss-120b")
    # 114.71B expert params at 4.25 bits + ~1.5B BF16 params: the ~65 GB of the published checkpoint
    assert 60e9 < m.weight_bytes < 68e9
    assert m.routed_active_params_b == pytest.approx(114.71 * 4 / 128)
    v4 = load_model("deepseek-v4-pro")
    assert 0.75e12 < v4.weight_bytes < 1.0e12


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError) as e:
        load_hardware("tpu-v9")
    assert "tpu-v9" in str(e.value) and "h100-sxm" in str(e.value)


def test_invalid_field_names_file_and_field(tmp_path: Path) -> None:
    src = (profile_dirs()[0] / "hardware" / "h100-sxm.toml").read_text()
    bad = tmp_path / "broken.toml"
    bad.write_text(src.replace("hbm_gb = 80.0", "hbm_gb = -80.0"))
    with pytest.raises(ProfileError) as e:
        load_hardware(str(bad))
    assert e.value.path == str(bad) and e.value.field == "hbm_gb"
    assert "broken.toml" in str(e.value) and "hbm_gb" in str(e.value)


def test_missing_and_unknown_fields_are_named(tmp_path: Path) -> None:
    src = (profile_dirs()[0] / "models" / "llama-3.3-70b.toml").read_text()
    f = tmp_path / "m.toml"
    f.write_text(src.replace("layers = 80\n", ""))
    with pytest.raises(ProfileError, match="layers"):
        load_model(str(f))
    f.write_text(src + "\nlayerz = 3\n")
    with pytest.raises(ProfileError, match="layerz"):
        load_model(str(f))


def test_malformed_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text("name = \n")
    with pytest.raises(ProfileError, match=r"x\.toml.*not valid TOML"):
        load_hardware(str(f))


def test_inconsistent_moe_parameters_are_rejected(tmp_path: Path) -> None:
    src = (profile_dirs()[0] / "models" / "gpt-oss-120b.toml").read_text()
    f = tmp_path / "m.toml"
    f.write_text(src.replace("total_params_b = 116.83", "total_params_b = 300.0"))
    with pytest.raises(ProfileError, match="do not add up"):
        load_model(str(f))


def test_a_replica_too_small_for_the_weights_says_how_many_gpus() -> None:
    with pytest.raises(ProfileError) as e:
        load_deployment("h100-sxm", "deepseek-v4-pro", gpus_per_replica=4)
    assert e.value.field == "gpus_per_replica" and "--gpus-per-replica" in str(e.value)


def test_replicas_multiply_gpus() -> None:
    dep = load_deployment("b200", "gpt-oss-120b", replicas=4, gpus_per_replica=1)
    assert dep.gpu_count == 4
    with pytest.raises(ProfileError, match="replicas"):
        load_deployment("b200", "gpt-oss-120b", replicas=0)
