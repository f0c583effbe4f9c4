import io
import tarfile
from pathlib import Path


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
