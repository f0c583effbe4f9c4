"""The README's examples run as written, on a fresh clone with the demo's data, against a live portal.

The demo is set up the way `bin/demo` sets it up (its `manage.py` lines, read from the script), then
every shell command in the `bash` blocks of the README sections below runs in order, in a folder that
looks like a fresh clone (the repository's files, linked), with only the portal's address, the token
and object ids put in: `http://127.0.0.1:8000` becomes the live server's URL, `TOKEN=ddp_…` a real
token of the demo user, and `/api/experiments/1/` or `experiments.cli status 1` the first experiment
the examples launched. curl is given `--fail-with-body`, so an error answer fails the command. A
README that drifts from the code fails here. Real parts: the live server, a Celery worker, trial jobs
as local processes.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from experiments.models import Dataset, Experiment
from models_registry.models import RegisteredModel
from portal.teams.services import api_token_create
from tests.processes import ROOT, database_url

pytestmark = [pytest.mark.slow, pytest.mark.worker]

SECTIONS = ("Teams, people and tokens", "Models", "HPO experiments")
README_URL = "http://127.0.0.1:8000"
TOKEN_PLACEHOLDER = re.compile(r"\bTOKEN=ddp_…")
# Ids the README gives, by kind: the n-th object of that kind on a fresh demo.
ID_PATTERNS = {
    Experiment: [
        re.compile(r"(/api/experiments/)(\d+)(/)"),
        re.compile(r"(experiments\.cli (?:status|trials|pause|resume|cancel) )(\d+)(\b)"),
    ],
    Dataset: [re.compile(r"(/api/datasets/)(\d+)(/)")],
}
SKIPPED_DEMO_COMMANDS = ("migrate", "collectstatic")
COMMAND_TIMEOUT = 600


def section(readme: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no section '## {title}'"
    return match[1]


def shell_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks, a command's continuation lines (ending in a backslash) kept
    with it; comment lines and blank lines dropped."""
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if not line.rstrip().endswith("\\"):
                commands.append(pending.rstrip("\n"))
                pending = ""
        assert not pending, f"a command ends in a continuation: {pending!r}"
    return commands


def demo_commands() -> list[str]:
    """`bin/demo`'s `manage.py` commands (continuations kept), but migrations and static files."""
    script = (ROOT / "bin" / "demo").read_text()
    commands = [c for c in shell_commands(f"```bash\n{script}```") if c.startswith("$py manage.py ")]
    return [c.replace("$py ", ".venv/bin/python ", 1) for c in commands if c.split()[2] not in SKIPPED_DEMO_COMMANDS]


def fresh_clone(folder: Path) -> Path:
    """A folder with the repository's files (linked): what a fresh clone with the demo's venv holds."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".git", "var"}:
            (folder / entry.name).symlink_to(entry)
    return folder


def with_ids(command: str) -> str:
    """The README's ids (1, 2…: the first, second… object of a kind) as the ids the run gave them."""
    written = command
    for model, patterns in ID_PATTERNS.items():
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))

        def real(match: re.Match, ids=ids, model=model) -> str:
            n = int(match[2])
            assert n <= len(ids), f"the README names {model.__name__} {n}, but only {len(ids)} exist: {written}"
            return f"{match[1]}{ids[n - 1]}{match[3]}"

        for pattern in patterns:
            command = pattern.sub(real, command)
    return command


def run(command: str, *, cwd: Path, env: dict[str, str], prelude: list[str]) -> subprocess.CompletedProcess:
    script = "\n".join(["set -eo pipefail", *prelude, command])
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )


def is_assignment(command: str) -> bool:
    return bool(re.match(r"^(export\s+)?[A-Z_][A-Z0-9_]*=", command))


def test_the_readme_examples_run_on_the_demo(celery_worker_process, live_server, tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
    }
    for command in demo_commands():
        done = run(command, cwd=clone, env=env, prelude=[])
        assert done.returncode == 0, f"bin/demo: {command}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"

    from django.contrib.auth import get_user_model

    token = api_token_create(user=get_user_model().objects.get(username="demo"), name="README examples").raw
    readme = (ROOT / "README.md").read_text()
    prelude: list[str] = []
    ran = 0
    for title in SECTIONS:
        for written in shell_commands(section(readme, title)):
            command = with_ids(written.replace(README_URL, live_server.url))
            command = TOKEN_PLACEHOLDER.sub(f"TOKEN={shlex.quote(token)}", command)
            command = re.sub(r"^curl ", "curl --silent --show-error --fail-with-body ", command)
            if is_assignment(command):
                prelude.append(command)
                continue
            done = run(command, cwd=clone, env=env, prelude=prelude)
            assert done.returncode == 0, (
                f"README ({title}): {written}\nran as: {command}\nexit {done.returncode}\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
            ran += 1
    assert ran >= 15, f"only {ran} README commands found"

    # What the examples say they do.
    demo_datasets = set(Dataset.objects.values_list("name", flat=True))
    assert demo_datasets == {"solubility.csv", "egfr_pic50.csv"}
    egfr = RegisteredModel.objects.get(name="egfr-pic50")
    assert egfr.versions.count() == 2  # trained and registered, then a package built and uploaded
    launched, waited = Experiment.objects.order_by("pk")
    assert launched.status == Experiment.Status.CANCELLED
    assert waited.name == "egfr-rf"
    assert waited.status == Experiment.Status.SUCCEEDED, waited.status_reason
    assert waited.registered_version is not None
