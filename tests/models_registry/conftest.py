import io
import tarfile
from pathlib import Path

import pytest

from models_registry import services


@pytest.fixture
def alpha_model(world):
    return services.model_create(
        team=world.alpha, name="solubility", task="regression", target_name="SOL", target_units="log mol/L"
    )


@pytest.fixture
def alpha_version(alpha_model, regression_archive, world):
    with regression_archive.open("rb") as archive:
        return services.version_register_archive(model=alpha_model, archive=archive, created_by=world.users["alice"])


def tampered(archive: Path, tmp_path: Path) -> Path:
    """The same archive with one weights file changed by a byte."""
    out = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name != "manifest.json" and not member.name.endswith("/manifest.json"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out
