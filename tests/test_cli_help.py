"""Every `--help` screen shows each option's help text whole: rich markup must not eat
bracketed words such as `[default: ...]` or `[ingest]`."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main

from rassegna.cli import app
from tests.conftest import invoke_app

_BOX = re.compile(r"[│╭╮╰╯─]")


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


ROOT = typer.main.get_command(app)
PATHS = _commands(ROOT)


def _flat(text: str) -> str:
    return " ".join(_BOX.sub(" ", text).split())


def _command_at(path: tuple[str, ...]) -> Any:
    # typer ships its own copy of click, so the tree is walked by attribute.
    command: Any = ROOT
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "rassegna")
def test_help_shows_every_help_text_whole(path: tuple[str, ...]) -> None:
    result = invoke_app([*path, "--help"], columns=100)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    command = _command_at(path)
    texts = [p.help for p in command.params if p.param_type_name == "option" and p.help]
    if command.help:
        texts.append(command.help.split("\n\n")[0])
    assert texts or not path
    for text in texts:
        assert _flat(text) in shown, f"{' '.join(path)} --help lost part of: {text!r}"
