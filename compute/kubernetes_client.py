"""Talking to a Kubernetes API server, for Jobs (`kubernetes_jobs`) and long-lived services alike:
the client set-up (the pod's service account in a cluster, else the local kubeconfig), the pod's own
namespace, list paging, and which failures may have left a create carried out (for `create_once`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def running_in_cluster() -> bool:
    return SERVICE_ACCOUNT_NAMESPACE.exists()


def load_api_client(*, in_cluster: bool) -> k8s.ApiClient:
    """A client authenticated as the pod's service account (`in_cluster`) or by the local kubeconfig."""
    from kubernetes import config

    configuration = k8s.Configuration()
    if in_cluster:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(client_configuration=configuration)
    return k8s.ApiClient(configuration)


def own_namespace() -> str:
    """The namespace of the pod this runs in, else "default"."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def continue_token(metadata: Any) -> str | None:
    """A list's continue token (named `var_continue` or `_continue` depending on the client version)."""
    if metadata is None:
        return None
    return getattr(metadata, "var_continue", None) or getattr(metadata, "_continue", None) or None


def unanswered(exc: Exception) -> bool:
    """A create that may have been carried out: no answer came (urllib3's errors) or a 5xx did."""
    if isinstance(exc, k8s.ApiException):
        return (exc.status or 0) >= 500
    return isinstance(exc, urllib3.exceptions.HTTPError)
