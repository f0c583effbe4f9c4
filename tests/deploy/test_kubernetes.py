"""The kustomize overlays in k8s/portal: rendered, validated against Kubernetes schemas, inspected."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import yaml

from .limits import default_setting, nginx_size
from .tooling import K8S_PORTAL, output_of, run

# Schemas of the oldest Kubernetes release the manifests support and of the newest one
# kubernetes-validate (pinned in requirements/tools.txt) knows.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
IMAGE = "registry.example.com/drug-discovery/portal"
# Secrets created in the cluster, never rendered from this repository.
EXTERNAL_SECRETS = {"portal-secrets", "portal-tls"}
MANAGE = {"get", "list", "watch", "create", "update", "patch", "delete"}
READ = {"get", "list", "watch"}
WORKER_PERMISSIONS = {
    ("apps", "deployments"): MANAGE,
    ("", "services"): MANAGE,
    ("autoscaling", "horizontalpodautoscalers"): MANAGE,
    ("batch", "jobs"): MANAGE,
    ("", "pods"): READ,
    ("", "pods/log"): READ,
    ("", "secrets"): {"create"},  # a trial Job's token Secret, owned by the Job; never read
    ("batch", "jobs/finalizers"): {"update"},
}
QUEUES = {"default", "ingest", "screening", "hpo", "deploy"}
WORKERS = ("portal-worker", "portal-worker-hpo")  # both run with the worker's ServiceAccount


@dataclass
class Overlay:
    name: str
    namespace: str
    tag: str
    web_replicas: int
    tls: bool
    objects: list[dict] = field(default_factory=list)

    def all(self, kind: str) -> list[dict]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        matches = [obj for obj in self.all(kind) if obj["metadata"]["name"] == name]
        assert len(matches) == 1, f"{self.name}: expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def pod_specs(self) -> list[tuple[str, dict]]:
        return [
            (f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"])
            for obj in self.objects
            if obj["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}
        ]


OVERLAYS = {
    "dev": Overlay("dev", namespace="portal-dev", tag="dev", web_replicas=1, tls=False),
    "prod": Overlay("prod", namespace="portal", tag="1.0.0", web_replicas=3, tls=True),
}


def render(kustomize: list[str], directory) -> list[dict]:
    result = run([*kustomize, str(directory)])
    assert result.returncode == 0, f"kustomize could not render {directory}:\n{output_of(result)}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(kubernetes_validate, obj: dict, version: str) -> str | None:
    """Why `obj` fails strict validation against Kubernetes `version`, or None when it passes."""
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "(root)"
        return f"{name}: {where}: {exc.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
        return f"{name}: no usable schema: {exc.message}"
    return None


def containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def overlay_config(overlay: Overlay) -> dict:
    (config,) = overlay.all("ConfigMap")
    return config["data"]


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request, kustomize) -> Overlay:
    expected = OVERLAYS[request.param]
    return Overlay(
        expected.name,
        expected.namespace,
        expected.tag,
        expected.web_replicas,
        expected.tls,
        render(kustomize, K8S_PORTAL / "overlays" / expected.name),
    )


def test_base_renders(kustomize):
    assert render(kustomize, K8S_PORTAL / "base")


def test_expected_objects_exist(overlay):
    present = {(obj["kind"], obj["metadata"]["name"]) for obj in overlay.objects}
    expected = {
        ("Namespace", overlay.namespace),
        ("Deployment", "portal-web"),
        ("Deployment", "portal-worker"),
        ("Deployment", "portal-worker-hpo"),
        ("Deployment", "portal-beat"),
        ("Service", "portal-web"),
        ("Ingress", "portal-web"),
        ("Job", "portal-migrate"),
        ("ServiceAccount", "portal"),
        ("ServiceAccount", "portal-worker"),
        ("Role", "portal-worker"),
        ("RoleBinding", "portal-worker"),
        ("HorizontalPodAutoscaler", "portal-worker"),
        ("PodDisruptionBudget", "portal-web"),
        ("PodDisruptionBudget", "portal-worker"),
        ("PodDisruptionBudget", "portal-worker-hpo"),
    }
    assert expected <= present, f"missing: {sorted(expected - present)}"
    (config,) = overlay.all("ConfigMap")
    assert config["metadata"]["name"].startswith("portal-config-"), "expected the generated, hashed ConfigMap"
    assert not overlay.all("Secret"), "secret values must not live in the repository"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_against_kubernetes_schemas(overlay, kubernetes_validate, version):
    errors = [error for obj in overlay.objects if (error := schema_errors(kubernetes_validate, obj, version))]
    assert not errors, f"{overlay.name} against Kubernetes {version}:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda d: d["spec"].update(replicas="two"), "'two' is not of type", id="wrong-type"),
        pytest.param(lambda d: d["spec"].update(replica=2), "'replica' was unexpected", id="unknown-field"),
        pytest.param(lambda d: d["spec"].pop("selector"), "'selector' is a required property", id="missing-field"),
        pytest.param(lambda d: d.update(kind="Deploymnet"), "no usable schema", id="unknown-kind"),
    ],
)
def test_validator_rejects_broken_manifests(kubernetes_validate, change, expected):
    """The validation above passes only because the manifests are right, not because nothing is checked."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "broken"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "broken"}},
            "template": {
                "metadata": {"labels": {"app": "broken"}},
                "spec": {"containers": [{"name": "broken", "image": "broken:1"}]},
            },
        },
    }
    assert schema_errors(kubernetes_validate, deployment, KUBERNETES_VERSIONS[0]) is None
    change(deployment)
    for version in KUBERNETES_VERSIONS:
        error = schema_errors(kubernetes_validate, deployment, version)
        assert error is not None, f"Kubernetes {version}: the broken manifest passed validation"
        assert expected in error


def test_objects_live_in_the_overlay_namespace(overlay):
    for obj in overlay.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == overlay.namespace, obj["metadata"]["name"]
    for subject in overlay.get("RoleBinding", "portal-worker")["subjects"]:
        assert subject.get("namespace") == overlay.namespace


def test_labels(overlay):
    for obj in overlay.objects:
        labels = obj["metadata"].get("labels", {})
        kind_name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] != "Namespace":
            assert labels.get("app.kubernetes.io/name") == "portal", kind_name
            assert labels.get("app.kubernetes.io/part-of") == "drug-discovery-platform", kind_name
        if obj["kind"] in {"Deployment", "Job"}:
            template_labels = obj["spec"]["template"]["metadata"]["labels"]
            assert template_labels.get("app.kubernetes.io/component") == labels.get("app.kubernetes.io/component")
            assert labels.get("app.kubernetes.io/component"), kind_name


def test_images_come_from_the_registry_with_the_overlay_tag(overlay):
    for where, spec in overlay.pod_specs():
        for container in containers(spec):
            assert container["image"] == f"{IMAGE}:{overlay.tag}", f"{where}/{container['name']}"


def test_every_container_has_resources(overlay):
    for where, spec in overlay.pod_specs():
        for container in containers(spec):
            resources = container.get("resources", {})
            label = f"{where}/{container['name']}"
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), f"{label}: no cpu/memory requests"
            assert "memory" in resources.get("limits", {}), f"{label}: no memory limit"


def test_pods_run_unprivileged(overlay):
    for where, spec in overlay.pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"].get("runAsUser") == 10001, where
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for container in containers(spec):
            label = f"{where}/{container['name']}"
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, label
            assert security.get("readOnlyRootFilesystem") is True, label
            assert security.get("capabilities", {}).get("drop") == ["ALL"], label
            tmp = [mount for mount in container.get("volumeMounts", []) if mount["mountPath"] == "/tmp"]
            assert tmp, f"{label}: nothing writable is mounted at /tmp"
            assert "emptyDir" in volumes[tmp[0]["name"]], f"{label}: /tmp is not an emptyDir"


def test_web_probes(overlay):
    web = overlay.get("Deployment", "portal-web")
    container = next(c for c in web["spec"]["template"]["spec"]["containers"] if c["name"] == "web")
    ports = {port.get("name") for port in container["ports"]} | {port["containerPort"] for port in container["ports"]}
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        assert http["port"] in ports, f"{probe} targets port {http['port']}, which the container does not expose"
        host = {h["name"]: h["value"] for h in http.get("httpHeaders", [])}.get("Host")
        if host:
            allowed = overlay_config(overlay)["ALLOWED_HOSTS"].split(",")
            assert host in allowed, f"{probe} sends Host {host}, which ALLOWED_HOSTS rejects"


def test_web_is_scraped_by_prometheus_from_a_multiprocess_dir(overlay):
    web = overlay.get("Deployment", "portal-web")
    annotations = web["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == "8000"
    spec = web["spec"]["template"]["spec"]
    directory = overlay_config(overlay)["PROMETHEUS_MULTIPROC_DIR"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in spec["containers"][0]["volumeMounts"]}
    assert directory in mounts, f"nothing is mounted at PROMETHEUS_MULTIPROC_DIR={directory}"
    assert "emptyDir" in volumes[mounts[directory]]
    # Requests through the ingress come from pod addresses too: /metrics trusts no network, only the
    # bearer token (METRICS_TOKEN, in the Secret, never in the ConfigMap).
    assert overlay_config(overlay)["METRICS_ALLOWED_NETWORKS"] == ""
    assert "METRICS_TOKEN" not in overlay_config(overlay)


def test_settings(overlay):
    config = overlay_config(overlay)
    assert config["DJANGO_SETTINGS_MODULE"] == "portal.settings.production"
    assert config["DEBUG"] == "false"
    assert config["SECURE_SSL_REDIRECT"] == "true"
    for secret_key in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY"):
        assert secret_key not in config, f"{secret_key} belongs in the Secret portal-secrets"
    hosts = {rule["host"] for rule in overlay.get("Ingress", "portal-web")["spec"]["rules"]}
    assert hosts <= set(config["ALLOWED_HOSTS"].split(","))
    assert {f"https://{host}" for host in hosts} <= set(config["CSRF_TRUSTED_ORIGINS"].split(","))


def test_references_resolve(overlay):
    config_maps = {obj["metadata"]["name"] for obj in overlay.all("ConfigMap")}
    accounts = {obj["metadata"]["name"] for obj in overlay.all("ServiceAccount")}
    for where, spec in overlay.pod_specs():
        assert spec.get("serviceAccountName") in accounts, where
        for container in containers(spec):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, where
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in EXTERNAL_SECRETS, where
    for tls in overlay.get("Ingress", "portal-web")["spec"].get("tls", []):
        assert tls["secretName"] in EXTERNAL_SECRETS


def test_workload_selectors_and_routing(overlay):
    deployments = {obj["metadata"]["name"]: obj for obj in overlay.all("Deployment")}
    for name, deployment in deployments.items():
        assert matches(
            deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]
        ), name

    def pods_selected(selector: dict) -> list[str]:
        return [n for n, d in deployments.items() if matches(selector, d["spec"]["template"]["metadata"]["labels"])]

    service = overlay.get("Service", "portal-web")
    assert pods_selected(service["spec"]["selector"]) == ["portal-web"]
    web_ports = {
        p["name"]: p["containerPort"]
        for p in deployments["portal-web"]["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    service_ports = {port["name"]: port for port in service["spec"]["ports"]}
    for port in service_ports.values():
        assert port["targetPort"] in web_ports or port["targetPort"] in web_ports.values()

    ingress = overlay.get("Ingress", "portal-web")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "portal-web"
            assert backend["port"].get("name") in service_ports or backend["port"].get("number") in {
                p["port"] for p in service_ports.values()
            }

    for pdb in overlay.all("PodDisruptionBudget"):
        assert pods_selected(pdb["spec"]["selector"]["matchLabels"]) == [pdb["metadata"]["name"]]


def test_ingress_accepts_large_uploads_and_reads_them_before_the_portal(overlay):
    annotations = overlay.get("Ingress", "portal-web")["metadata"]["annotations"]
    body_size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert nginx_size(body_size) == default_setting("MAX_REQUEST_BYTES")
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"


def test_tls_where_expected(overlay):
    spec = overlay.get("Ingress", "portal-web")["spec"]
    if not overlay.tls:
        return
    tls_hosts = {host for entry in spec.get("tls", []) for host in entry["hosts"]}
    assert {rule["host"] for rule in spec["rules"]} <= tls_hosts


def test_replicas_and_scaling(overlay):
    assert overlay.get("Deployment", "portal-web")["spec"]["replicas"] == overlay.web_replicas
    beat = overlay.get("Deployment", "portal-beat")["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"]["type"] == "Recreate"
    worker = overlay.get("Deployment", "portal-worker")["spec"]
    assert "replicas" not in worker, "the autoscaler owns the worker replica count"
    hpa = overlay.get("HorizontalPodAutoscaler", "portal-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "portal-worker"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]] == ["cpu"]
    # Drivers wait on Redis at little CPU: the HPO worker has a fixed count and no CPU autoscaler.
    assert overlay.get("Deployment", "portal-worker-hpo")["spec"]["replicas"] >= 1
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in overlay.all("HorizontalPodAutoscaler")}
    assert "portal-worker-hpo" not in targets
    web_pdb = overlay.get("PodDisruptionBudget", "portal-web")["spec"]
    if "minAvailable" in web_pdb:
        assert web_pdb["minAvailable"] < overlay.web_replicas, "the web budget would block every node drain"


def test_commands(overlay):
    def args(name: str) -> list[str]:
        obj = overlay.get("Job" if name == "portal-migrate" else "Deployment", name)
        (container,) = obj["spec"]["template"]["spec"]["containers"]
        assert "command" not in container, f"{name}: keep the image's entrypoint (tini); set args"
        return container["args"]

    assert args("portal-web") == ["gunicorn", "-c", "portal/gunicorn.conf.py", "portal.wsgi:application"]
    queues = {}
    for name in WORKERS:
        worker = args(name)
        assert worker[:4] == ["celery", "-A", "portal", "worker"]
        queues[name] = set(worker[worker.index("-Q") + 1].split(","))
    assert queues["portal-worker-hpo"] == {"hpo"}, "experiment drivers get a pool of their own"
    assert queues["portal-worker"] == QUEUES - {"hpo"}, "every other queue is served, none twice"
    assert args("portal-beat")[:4] == ["celery", "-A", "portal", "beat"]
    assert args("portal-migrate") == ["python", "manage.py", "migrate", "--noinput"]


def test_migrations_job(overlay):
    job = overlay.get("Job", "portal-migrate")["spec"]
    assert job["ttlSecondsAfterFinished"] > 0
    assert job["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
    assert job["backoffLimit"] >= 1


@pytest.mark.parametrize("worker", WORKERS)
def test_worker_service_account_is_bound_to_its_role(overlay, worker):
    worker_spec = overlay.get("Deployment", worker)["spec"]["template"]["spec"]
    account = worker_spec["serviceAccountName"]
    assert account == "portal-worker"
    assert worker_spec.get("automountServiceAccountToken", True) is True, "the worker needs its API token"
    assert overlay.get("ServiceAccount", account).get("automountServiceAccountToken", True) is not False
    bindings = [
        binding
        for binding in overlay.all("RoleBinding")
        if any(
            subject["kind"] == "ServiceAccount"
            and subject["name"] == account
            and subject.get("namespace") == overlay.namespace
            for subject in binding["subjects"]
        )
    ]
    assert bindings, f"no RoleBinding names the ServiceAccount {account}"
    roles = {binding["roleRef"]["name"] for binding in bindings if binding["roleRef"]["kind"] == "Role"}
    granted: dict[tuple[str, str], set[str]] = {}
    for role_name in roles:
        for rule in overlay.get("Role", role_name)["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted.setdefault((group, resource), set()).update(rule["verbs"])
    for (group, resource), verbs in WORKER_PERMISSIONS.items():
        missing = verbs - granted.get((group, resource), set())
        assert not missing, f"the worker may not {sorted(missing)} {resource} ({group or 'core'})"
    # Least privilege: nothing beyond what the workers need, no wildcards, and Secrets only created.
    assert granted == WORKER_PERMISSIONS, f"unexpected grants: {set(granted) - set(WORKER_PERMISSIONS)}"
    assert granted[("", "secrets")] == {"create"}
    assert all("*" not in verbs for verbs in granted.values())
    assert not overlay.all("ClusterRole")
    assert not overlay.all("ClusterRoleBinding")


def test_only_the_worker_gets_an_api_token(overlay):
    for where, spec in overlay.pod_specs():
        if where not in {f"Deployment/{name}" for name in WORKERS}:
            assert spec.get("automountServiceAccountToken") is False, where


def production_request(config: dict, host: str, path: str, metrics_dir) -> dict:
    """Answer `GET path` with `Host: host` over plain HTTP, as the portal configured by the overlay's
    ConfigMap would (production settings; the Secret's values are placeholders, as nothing here needs them)."""
    env = {
        **config,
        "PATH": os.environ.get("PATH", ""),
        "SECRET_KEY": "manifest-check-only-key-manifest-check-only-key-0123456789",
        "DATABASE_URL": "postgres://portal@db.invalid:5432/portal",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    code = (
        "import json, sys, django; django.setup(); from django.test import Client; "
        "r = Client().get(sys.argv[2], HTTP_HOST=sys.argv[1]); "
        "print(json.dumps({'status': r.status_code, 'location': r.get('Location', '')}))"
    )
    result = run([sys.executable, "-c", code, host, path], env=env)
    assert result.returncode == 0, output_of(result)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_trial_jobs_reach_the_portal_through_its_service(overlay, tmp_path):
    """Trial jobs call TRIAL_PORTAL_URL from inside the cluster: its host must be allowed, name the
    web Service and its port, and be answered (not redirected to HTTPS) by production settings."""
    config = overlay_config(overlay)
    url = urlsplit(config["TRIAL_PORTAL_URL"])
    assert url.hostname in config["ALLOWED_HOSTS"].split(","), f"{url.hostname} is not in ALLOWED_HOSTS"
    service = overlay.get("Service", url.hostname)
    default_port = 443 if url.scheme == "https" else 80
    assert (url.port or default_port) in {port["port"] for port in service["spec"]["ports"]}
    assert pods_selected_by(overlay, service) == ["portal-web"]

    trial = production_request(config, url.netloc, "/api/trials/1/job/", tmp_path)
    assert trial == {"status": 401, "location": ""}, "the job would be redirected or refused, not served"
    other = production_request(config, url.netloc, "/api/me/", tmp_path)
    assert other["status"] == 301, "only the trial endpoints are served over in-cluster HTTP"
    assert other["location"].startswith("https://")


def pods_selected_by(overlay: Overlay, service: dict) -> list[str]:
    return [
        deployment["metadata"]["name"]
        for deployment in overlay.all("Deployment")
        if matches(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    ]
