"""The core and the trainer image install their own small requirement sets: what they import must
be there, and nothing else (no Django, no Celery) may be needed.

Each check runs the code in a fresh interpreter without site-packages (`python -S`) whose path holds
only the project and links to the installed files of the distributions pinned in the named
requirement files: as in a virtualenv holding only those sets."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"

TRAIN = """
from chemcore.predictor import Predictor
from chemcore.training import train_and_package
smiles = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCC", "CCCl", "OCCO", "NCCN"] * 3
train_and_package(smiles=smiles, y=[float(i % 5) for i in range(len(smiles))], task="regression",
                  family="{family}", out_dir="{out}", target_name="y", params={params})
batch = Predictor.load("{out}").predict_all(["CCO", "not a molecule"])
assert batch.valid.tolist() == [True, False], batch
"""


def pinned(*names: str) -> list[str]:
    dists = []
    for name in names:
        for line in (REQUIREMENTS / f"{name}.txt").read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?==", line)
            if match:
                dists.append(match.group(1).lower().replace("_", "-"))
    return dists


def site_of(dists: list[str], folder: Path) -> Path:
    """`folder` filled with links to every top-level file and package the distributions installed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in dists:
        distribution = importlib.metadata.distribution(name)
        for top in {Path(str(file)).parts[0] for file in distribution.files or []}:
            source = Path(distribution.locate_file(top))
            if top != ".." and source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder


def run_guarded(dists: list[str], *statements: str, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{site_of(dists, site)}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, "-S", "-c", "\n".join([*statements, "print('ok')"])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_isolation_hides_what_a_set_lacks(tmp_path):
    result = run_guarded(pinned("core"), "import django", site=tmp_path / "site")
    assert result.returncode != 0
    assert "No module named 'django'" in result.stderr


def test_the_core_and_compute_work_with_only_the_core_set(tmp_path):
    """Imports, and a random forest trained, packaged, loaded and asked (the inference server's path)."""
    result = run_guarded(
        pinned("core"),
        "import chemcore.predictor, chemcore.readers, chemcore.standardise, chemcore.featurisers",
        "import chemcore.package, chemcore.training, chemcore.splits, chemcore.metrics, chemcore.depict",
        "import compute, compute.base, compute.local",
        TRAIN.format(family="rf", params={"n_estimators": 5}, out=tmp_path / "pkg"),
        site=tmp_path / "site",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("flavour", ["sklearn", "pytorch", "keras"])
def test_the_trainer_set_trains_and_packages_every_flavour(flavour, tmp_path):
    """The trial job's imports and one tiny training per family, as in the trainer image."""
    family = {"sklearn": "rf", "pytorch": "torch_mlp", "keras": "keras_mlp"}[flavour]
    params = {"n_estimators": 5} if family == "rf" else {"epochs": 2}
    result = run_guarded(
        pinned("core", "trainer"),
        "import experiments.trial_job.run",
        TRAIN.format(family=family, params=params, out=tmp_path / "pkg"),
        site=tmp_path / "site",
    )
    assert result.returncode == 0, result.stderr[-3000:]
