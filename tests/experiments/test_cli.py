"""`python -m experiments.cli` as a person runs it: a subprocess against a live server. It needs only
the standard library and `requests` (with its own requirements, all pinned in requirements/base.txt);
a spec file it cannot read or a spec the portal refuses ends in one line per problem, never a
traceback; `--wait` prints the experiment's page at once and each trial as it finishes."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from experiments.models import Experiment

from .helpers import SPEC

ROOT = Path(__file__).resolve().parents[2]
BASE_REQUIREMENTS = ROOT / "requirements" / "base.txt"


def cli_env(live_server, world) -> dict[str, str]:
    """The CLI's variables; PYTHONPATH so that it runs from any folder (as from the checkout)."""
    return {**os.environ, "PORTAL_URL": live_server.url, "PORTAL_TOKEN": world.tokens["amy"], "PYTHONPATH": str(ROOT)}


def cli(live_server, world, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        cwd=cwd, env=cli_env(live_server, world), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def pinned_in_base() -> set[str]:
    names = set()
    for line in BASE_REQUIREMENTS.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            names.add(Requirement(line.split(";")[0].strip()).name.lower().replace("_", "-"))
    return names


def distributions_needed(name: str, seen: set[str] | None = None) -> set[str]:
    """`name` and what it requires (without extras), recursively."""
    seen = set() if seen is None else seen
    key = name.lower().replace("_", "-")
    if key in seen:
        return seen
    seen.add(key)
    for text in importlib.metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            distributions_needed(requirement.name, seen)
    return seen


def test_the_cli_runs_with_nothing_but_the_standard_library_and_requests(live_server, world, tmp_path):
    needed = distributions_needed("requests")
    assert needed <= pinned_in_base(), f"not pinned in base.txt: {needed - pinned_in_base()}"
    # A folder holding only those distributions' modules and the experiments package; the CLI runs
    # with it as its only path besides the standard library (-S: no site-packages, -E: no PYTHONPATH).
    site = tmp_path / "site"
    site.mkdir()
    for module, distributions in importlib.metadata.packages_distributions().items():
        if {d.lower().replace("_", "-") for d in distributions} & needed and not module.startswith("_"):
            spec = importlib.util.find_spec(module)
            folders = spec.submodule_search_locations
            location = Path(folders[0]) if folders else Path(spec.origin)
            (site / location.name).symlink_to(location)
    (site / "experiments").symlink_to(ROOT / "experiments")
    run = (
        "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'experiments.cli'; "
        "runpy.run_module('experiments.cli', run_name='__main__', alter_sys=True)"
    )
    listed = subprocess.run(
        [sys.executable, "-S", "-E", "-c", run, str(site), "list"],
        cwd=tmp_path, env=cli_env(live_server, world), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == "no experiments\n"


@pytest.mark.parametrize("problem", ["missing", "directory", "not text"])
def test_a_spec_file_that_cannot_be_read_ends_in_one_line(live_server, world, tmp_path, problem):
    path = tmp_path / "spec.yaml"
    if problem == "directory":
        path.mkdir()
    elif problem == "not text":
        path.write_bytes(b"name: \xff\xfe\x00bad\n")
    result = cli(live_server, world, "launch", str(path), "--team", "alpha")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}: ")
    expected = {"missing": "no such file", "directory": "is a directory", "not text": "not UTF-8 text"}[problem]
    assert expected in result.stderr
    assert not Experiment.objects.exists()


def test_a_refused_spec_prints_one_line_per_problem_with_its_field(live_server, world, tmp_path):
    spec = {
        **SPEC,
        "search_space": {"n_estimators": {"type": "int", "low": 30, "high": 10}},
        "sampler": {"type": "tpe", "n_startup_trial": 3},
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    result = cli(live_server, world, "launch", "bad.yaml", "--team", "alpha", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("bad.yaml: search_space.n_estimators.low: must be less than high")
    assert lines[1].startswith("bad.yaml: sampler.n_startup_trial: unknown field (did you mean 'n_startup_trials'?)")

    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    broken = cli(live_server, world, "launch", "broken.yaml", "--team", "alpha", cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.splitlines() == ["broken.yaml: spec: not valid YAML (line 2, column 1): expected ',' or ']', "
                                          "but got '<stream end>'"]  # fmt: skip

    foreign = cli(live_server, world, "launch", "broken.yaml", "--team", "beta", cwd=tmp_path)
    assert foreign.returncode == 2
    assert foreign.stderr.splitlines() == ["error: team: Object with slug=beta does not exist."]
    assert not Experiment.objects.exists()


class Lines:
    """A process's output lines as they come, each with the moment it arrived."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def next(self, timeout: float) -> str | None:
        return self.queue.get(timeout=timeout)


@pytest.mark.worker
@pytest.mark.slow
def test_wait_prints_the_page_at_once_then_each_trial_as_it_finishes(
    celery_worker_process, live_server, world, solubility_csv, tmp_path
):
    spec = {**SPEC, "name": "cli-wait", "budget": {"max_trials": 3}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "launch", str(tmp_path / "spec.yaml"), "--team", "alpha",
         "--wait", "--interval", "0.5"],
        cwd=ROOT, env=cli_env(live_server, world), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = Lines(process.stdout)
        first, url = lines.next(timeout=60), lines.next(timeout=10)
        experiment = Experiment.objects.get(name="cli-wait")
        assert first == f"experiment {experiment.pk} cli-wait: queued"
        assert url == f"{live_server.url}/experiments/{experiment.pk}/"
        assert experiment.finalised_at is None  # printed at once, not at the end

        trial_line = re.compile(r"^\[\d\d:\d\d\] trial (\d+): complete, rmse ([0-9.]+), ([0-9.]+) s$")
        printed: list[re.Match] = []
        while not printed:
            line = lines.next(timeout=240)
            assert line is not None, "the output ended before any trial was printed"
            printed += [m for m in [trial_line.match(line)] if m]
        # The first finished trial is printed while the experiment still runs (three trials, two at a time).
        assert Experiment.objects.get(pk=experiment.pk).finalised_at is None
        rest = []
        while (line := lines.next(timeout=240)) is not None:
            rest.append(line)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    printed += [m for m in map(trial_line.match, rest) if m]
    trials = {t.number: t for t in Experiment.objects.get(pk=experiment.pk).trials.all()}
    assert sorted(int(m[1]) for m in printed) == [0, 1, 2]
    for match in printed:
        trial = trials[int(match[1])]
        assert match[2] == f"{trial.value:.6g}"
        assert abs(float(match[3]) - (trial.finished_at - trial.started_at).total_seconds()) < 0.1
    assert any(line.startswith("[") and "succeeded: 3/3 complete" in line for line in rest)
    assert f"experiment {experiment.pk} cli-wait (team alpha)" in rest
