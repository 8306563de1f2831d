"""The calibration points against NVIDIA AIConfigurator's predictions for the same systems.

    python benchmarks/aic_compare.py --aic /path/to/aiconfigurator [--work-dir DIR]

AIConfigurator (https://github.com/ai-dynamo/aiconfigurator, `pip install aiconfigurator`) is
not a dependency of this project: point --aic at its command. For every system of
profiles/calibration/measured-points.toml that it covers, this runs its default search
(`aiconfigurator cli default`: aggregated and disaggregated configurations within the same
GPU budget the calibration uses, from its shipped silicon performance database), once without
and once with MTP where the measured runs used it, and reads its Pareto frontiers
(agg/pareto.csv, disagg/pareto.csv: output tokens/s per GPU against tokens/s per user). Its
figure for a point is read off the joint frontier at the point's speed,
interpolated between configurations as the measured figures are, and converted to total
(input + output) tokens/s per GPU as the measurements count them. Results
of earlier runs in --work-dir are reused. The table prints measured, this simulator and
AIConfigurator, each with its error.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentperf_tui.core.simulator.calibration import PointResult, evaluate_all, load_points
from agentperf_tui.core.simulator.steady import value_at


@dataclass(frozen=True)
class AicRun:
    """One AIConfigurator search standing for the systems of some calibration points."""

    model_path: str
    system: str
    backend: str
    gpus: int
    mtp: bool

    def key(self, isl: int, osl: int) -> str:
        name = self.model_path.replace("/", "--")
        mtp = "mtp" if self.mtp else "nomtp"
        return f"{name}_{self.system}_{self.backend}_{isl}x{osl}_{self.gpus}g_{mtp}"


# (model, hardware, precision) of the calibration points -> the AIConfigurator searches for them
# (MTP: 3 draft tokens, 1.49 accepted on average, the acceptance length 2.49 the recipes use)
RUNS: dict[tuple[str, str, str], tuple[AicRun, ...]] = {
    ("deepseek-r1", "b200", "fp8"): (
        AicRun("deepseek-ai/DeepSeek-R1", "b200_sxm", "trtllm", 64, False),
        AicRun("deepseek-ai/DeepSeek-R1", "b200_sxm", "trtllm", 64, True),
    ),
    # no NVFP4 DeepSeek-R1 checkpoint ships with AIConfigurator; DeepSeek-V3.1 NVFP4 has the
    # same architecture (671B, 256 experts, MLA, 61 layers)
    ("deepseek-r1", "b200", "fp4"): (
        AicRun("nvidia/DeepSeek-V3.1-NVFP4", "b200_sxm", "trtllm", 64, False),
        AicRun("nvidia/DeepSeek-V3.1-NVFP4", "b200_sxm", "trtllm", 64, True),
    ),
    ("deepseek-r1", "h100-sxm", "fp8"): (
        AicRun("deepseek-ai/DeepSeek-R1", "h100_sxm", "trtllm", 64, False),
        AicRun("deepseek-ai/DeepSeek-R1", "h100_sxm", "trtllm", 64, True),
    ),
    ("deepseek-r1", "gb200-nvl72", "fp8"): (
        AicRun("deepseek-ai/DeepSeek-R1", "gb200", "trtllm", 72, False),
        AicRun("deepseek-ai/DeepSeek-R1", "gb200", "trtllm", 72, True),
    ),
    ("deepseek-v4-pro", "gb300-nvl72", "fp4"): (
        AicRun("deepseek-ai/DeepSeek-V4-Pro", "gb300", "vllm", 72, False),
    ),
    ("deepseek-v4-pro", "gb200-nvl72", "fp4"): (
        AicRun("deepseek-ai/DeepSeek-V4-Pro", "gb200", "vllm", 72, False),
    ),
    ("gpt-oss-120b", "b200", "fp4"): (AicRun("openai/gpt-oss-120b", "b200_sxm", "trtllm", 8, False),),
    ("llama-3.3-70b", "b200", "fp8"): (
        AicRun("nvidia/Llama-3.1-70B-Instruct-FP8", "b200_sxm", "trtllm", 8, False),
    ),
}


def precision(point_id: str) -> str:
    return "fp4" if "-fp4-" in point_id else "fp8"


def run_aic(aic: str, run: AicRun, isl: int, osl: int, work: Path) -> Path | None:
    """The result folder of one search (run it unless an earlier run left it)."""
    out = work / run.key(isl, osl)
    found = sorted(out.glob("**/pareto.csv"))
    if found:
        return out
    cmd = [
        aic, "cli", "default",
        "--model-path", run.model_path,
        "--system", run.system,
        "--backend", run.backend,
        "--total-gpus", str(run.gpus),
        "--isl", str(isl),
        "--osl", str(osl),
        "--ttft", "60000",
        "--tpot", "100",
        "--save-dir", str(out),
        "--log-level", "ERROR",
    ]
    if run.mtp:
        cmd += ["--nextn", "3", "--nextn-accepted", "1.49"]
    print("running:", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not sorted(out.glob("**/pareto.csv")):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        print(f"  AIConfigurator failed ({proc.returncode}): {' | '.join(tail)}")
        return None
    return out


def frontier(folder: Path) -> list[tuple[float, float]]:
    """(tokens/s per user, output tokens/s per GPU) of every configuration on its frontiers."""
    pts: list[tuple[float, float]] = []
    for f in folder.glob("**/pareto.csv"):
        with f.open(newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    pts.append((float(row["tokens/s/user"]), float(row["tokens/s/gpu"])))
                except (KeyError, ValueError):
                    continue
    return pts


def aic_value(pts: list[tuple[float, float]], speed: float, isl: int, osl: int) -> float | None:
    """Total tokens/s per GPU of the joint frontier at `speed` tokens/s per user, interpolated
    log-linearly between its configurations as the measured figures are."""
    pareto: list[tuple[float, float]] = []
    for user, gpu in sorted(pts, reverse=True):
        if not pareto or gpu > pareto[-1][1]:
            pareto.append((user, gpu))
    val = value_at(pareto, speed)
    return None if val is None else val * (isl + osl) / osl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aic", default="aiconfigurator", help="the aiconfigurator command")
    ap.add_argument("--work-dir", default="aic-results", help="where its results are kept")
    args = ap.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ours: dict[str, PointResult] = {r.point.id: r for r in evaluate_all()}
    rows = []
    for pt in load_points():
        runs = RUNS.get((pt.model, pt.hardware, precision(pt.id)), ())
        pts: list[tuple[float, float]] = []
        for run in runs:
            folder = run_aic(args.aic, run, pt.isl, pt.osl, work)
            if folder is not None:
                pts += frontier(folder)
        aic = aic_value(pts, pt.speed, pt.isl, pt.osl) if pts else None
        rows.append((pt, ours[pt.id].simulated, aic, "no run" if not runs else ""))
    print(f"{'point':30} {'set':10} {'measured':>9} {'ours':>8} {'err':>6} {'AIC':>8} {'err':>6}")
    errs_ours, errs_aic = [], []
    for pt, sim, aic, why in rows:
        e_o = f"{sim / pt.measured - 1:+6.0%}" if sim else "   n/a"
        e_a = f"{aic / pt.measured - 1:+6.0%}" if aic else "   n/a"
        s_o = f"{sim:8.0f}" if sim else "       -"
        s_a = f"{aic:8.0f}" if aic else (f"{why:>8}" if why else " unreach")
        print(f"{pt.id:30} {pt.set:10} {pt.measured:9.0f} {s_o} {e_o} {s_a} {e_a}")
        if sim and aic:
            errs_ours.append(abs(math.log(sim / pt.measured)))
            errs_aic.append(abs(math.log(aic / pt.measured)))
    if errs_ours:
        def med(xs: list[float]) -> float:
            return sorted(xs)[len(xs) // 2]
        print(
            f"points both predict: {len(errs_ours)}; median |error| ours {math.exp(med(errs_ours)) - 1:.0%}, "
            f"AIConfigurator {math.exp(med(errs_aic)) - 1:.0%}; within ±35%: ours "
            f"{sum(e <= math.log(1.35) for e in errs_ours)}, AIConfigurator "
            f"{sum(e <= math.log(1.35) for e in errs_aic)}"
        )


if __name__ == "__main__":
    main()
