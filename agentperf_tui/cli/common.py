"""Run flags shared by `run`, `search` and `console`, and the RunConfig they build."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from agentperf_tui.core.engine.config import RunConfig
from agentperf_tui.core.engine.config_fields import FIELDS, field, flag_for
from agentperf_tui.core.engine.config_fields import concurrency_list as parse_concurrency_list


def _arg_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            if parse is float:
                raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
            if parse is int:
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


concurrency_list = _arg_type(parse_concurrency_list)
"""argparse type for `--sweep 4,8,16`."""


def add_field(
    p: argparse.ArgumentParser | Any,
    name: str,
    *,
    flags: tuple[str, ...] | None = None,
    default: Any = None,
    help: str | None = None,
) -> None:
    """One setting of the field table as a flag (its flags, help and type from the table)."""
    f = field(name)
    kwargs: dict[str, Any] = {"dest": f.name, "help": help or f.help}
    if f.action == "store":
        kwargs["default"] = default
        if f.parse is not None:
            kwargs["type"] = _arg_type(f.parse)
        if f.choices is not None:
            kwargs["choices"] = f.choices
        else:
            kwargs["metavar"] = f.shown_metavar
    else:
        kwargs["action"] = f.action
        kwargs["default"] = f.action == "store_false"
    p.add_argument(*(flags or f.flags), **kwargs)


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Every endpoint, workload and measurement setting of the field table, grouped."""
    titles = {"endpoint": "endpoint", "workload": "workload", "measurement": "measurement"}
    for group, title in titles.items():
        g = p.add_argument_group(title)
        for f in FIELDS:
            if f.group == group:
                add_field(g, f.name)


class ArgError(ValueError):
    pass


def config_from_args(args: argparse.Namespace, **extra: Any) -> RunConfig:
    values = {f.name: getattr(args, f.name) for f in FIELDS if getattr(args, f.name, None) is not None}
    values.update({k: v for k, v in extra.items() if v is not None})
    try:
        return RunConfig(**values)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = err.get("loc", ())
            flag = flag_for(str(loc[0])) if loc else "settings"
            msgs.append(f"{flag}: {str(err.get('msg')).removeprefix('Value error, ')}")
        raise ArgError("; ".join(msgs)) from None


def launch(cfg: RunConfig, args: argparse.Namespace) -> int:
    """Run `cfg` headless (`--headless`: progress on stderr, JSON on stdout) or in the console."""
    if not args.headless:
        from agentperf_tui.cli.console import open_console

        return open_console(cfg, autostart=True)
    from agentperf_tui.cli.headless import run_headless

    return run_headless(cfg, progress_every_s=args.progress_every)
