"""The promises README.md makes about setting up, checked against the files that keep them."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.DOTALL)


def test_readme_has_exactly_two_one_line_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert all(command.startswith("python3.11 -m venv .venv && ") for command in commands)


def test_first_command_installs_and_runs_arbwatch() -> None:
    first = _setup_commands()[0]
    assert "pip install ." in first
    assert ".venv/bin/arbwatch " in first


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    second = _setup_commands()[1]
    assert "pytest" in second
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert second in ci_lines


def test_the_import_contracts_hold_and_ci_checks_them() -> None:
    # The layers and the pure core (pyproject.toml [tool.importlinter]): a local pytest
    # catches a broken contract before CI does.
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert ".venv/bin/lint-imports" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_module_of_the_package_has_a_layer() -> None:
    # A module missing from the layers contract is checked by nothing: import-linter only
    # constrains the layers it is told of. Every top-level module and package must be named.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [
        contract["layers"]
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["id"] == "layers"
    ]
    named = {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}
    package = ROOT / "arbwatch"
    modules = {
        f"arbwatch.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem not in {"__init__", "__main__"})
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules - named == set()
    assert "arbwatch.daemon" in modules  # the walk found the package
