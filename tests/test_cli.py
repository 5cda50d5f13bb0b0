"""The `invnet` console command: declared in pyproject.toml, one subcommand per tool, each the
`main` of its module (status, bundle and readme have their own tests)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tomllib

import pytest

from helpers import REPO
from invnet.cli import COMMANDS, main


def test_pyproject_declares_the_invnet_command():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["invnet"].partition(":")
    assert getattr(importlib.import_module(module), function) is main


def test_every_subcommand_is_its_modules_main(capsys):
    assert set(COMMANDS) == {"config", "status", "bundle", "tuning", "readme"}
    for name, (module, _) in COMMANDS.items():
        assert callable(importlib.import_module(module).main), module
    for name in ("status", "bundle", "tuning", "readme"):
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith("usage:"), name


def test_config_schema_and_errors(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["required"] == ["experiments"]
    assert main(["nonsense"]) == 2
    assert "unknown subcommand 'nonsense'; allowed: config, status, bundle, tuning, readme" in capsys.readouterr().err
    assert main([]) == 2 and "subcommands:" in capsys.readouterr().out


def test_python_dash_m_invnet_runs_the_command():
    run = subprocess.run([sys.executable, "-m", "invnet", "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("usage: invnet SUBCOMMAND"), run.stderr
