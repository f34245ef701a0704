"""The README's Python snippets run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README.md has no python block"
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["X_sub"].shape == (80, 32)
    assert sum(namespace["sel"].sampling_strategy_.values()) == 80
    assert namespace["search"].best_params_["selector__k"] in (0, 0.2, 0.4, 0.6, 0.8, 1)


@pytest.mark.parametrize("kind", ["main job", "tests"])
def test_readme_has_the_two_setup_commands(kind):
    text = README.read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    wanted = "coreset3d run" if kind == "main job" else "pytest"
    assert any(c.startswith("python3 -m venv") and c.endswith(wanted) for c in commands)


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    command = next(c for c in re.findall(r"```bash\n(.*?)\n```", README.read_text(), re.S)
                   if c.endswith("pytest"))
    install_and_test = command.split(" && ", 2)[2]  # after venv creation and activation
    assert install_and_test in ci
