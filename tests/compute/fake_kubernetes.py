"""A tiny fake Kubernetes API server, because no cluster can run on the machines the tests run on.

It speaks just enough of the real HTTP API for `kubernetes.client` to be used unchanged against it:
Jobs (create, read, list by label, merge-patch, delete) in `/apis/batch/v1/namespaces/<ns>/jobs`,
pods (list by label, log) in `/api/v1/namespaces/<ns>/pods`, and Secrets (create, read, delete) in
`/api/v1/namespaces/<ns>/secrets`. Deleting a Job deletes the Secrets it owns (`ownerReferences` with
its uid), as Kubernetes' garbage collector would. Every request is recorded, so tests can count calls,
and `fail` makes chosen requests fail.

With `run_pods=True` it also plays the Job controller and the kubelet, crudely: each pod is a local
process running the container's args (the image is ignored) with the container's environment, secret
references resolved from the Secrets (those given as `secrets` and those created through the API; a pod
waits while one it needs is missing) and the completion-index annotation given to Indexed Jobs. It
keeps `status` the way Kubernetes does (active/ready/succeeded/failed, completedIndexes, failedIndexes,
Complete/Failed conditions, DeadlineExceeded), so the shared backend suite can run real commands.
With `run_pods=False` nothing moves by itself: tests set `.status` and add pods explicitly.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)(/log)?)?$")
SECRETS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/]+))?$")
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
FIELD_REF = re.compile(r"^metadata\.annotations\['([^']+)'\]$")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compress(indexes: set[int]) -> str | None:
    """Kubernetes' form of an index set: "1,3-5,7"."""
    if not indexes:
        return None
    ordered, parts, start = sorted(indexes), [], None
    for position, index in enumerate(ordered):
        start = index if start is None else start
        if position + 1 == len(ordered) or ordered[position + 1] != index + 1:
            if index - start > 1:
                parts.append(f"{start}-{index}")
            else:
                parts.extend(str(number) for number in range(start, index + 1))
            start = None
    return ",".join(parts)


def matches(selector: str | None, labels: dict) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def merge(target: dict, patch: dict) -> dict:
    """JSON merge patch (RFC 7386)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value
    return target


class FakeKubernetes:
    def __init__(self, *, run_pods: bool = True, secrets: dict[tuple[str, str], dict[str, str]] | None = None):
        self.run_pods = run_pods
        # Secrets as the API server stores them: `data` base64-encoded, never `stringData`.
        self.secrets: dict[tuple[str, str], dict] = {
            (namespace, name): _stored_secret(namespace, {"metadata": {"name": name}, "stringData": values})
            for (namespace, name), values in (secrets or {}).items()
        }
        self.failures: list[tuple[str, re.Pattern, int]] = []
        self.lost_answers: list[list] = []  # [method, pattern, how many more]
        self.jobs: dict[tuple[str, str], dict] = {}
        self.pods: dict[tuple[str, str], dict] = {}
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.RLock()
        self._processes: dict[tuple[str, str], tuple[subprocess.Popen, Path]] = {}
        self._control: dict[tuple[str, str], dict] = {}
        self._log_files: dict[tuple[str, str], Path] = {}
        self._logdir = Path(tempfile.mkdtemp(prefix="fake-kubelet-"))
        self._stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)]
        if run_pods:
            self._threads.append(threading.Thread(target=self._run_controller, daemon=True))

    def __enter__(self) -> FakeKubernetes:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for process, _ in self._processes.values():
                self._kill(process)

    # -- what tests use --------------------------------------------------------------------------

    def job(self, namespace: str, name: str) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.jobs[(namespace, name)]))

    def secret(self, namespace: str, name: str) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.secrets[(namespace, name)]))

    def secret_values(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's data, decoded."""
        with self.lock:
            data = self.secrets[(namespace, name)].get("data", {})
            return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def fail(self, method: str, pattern: str, status: int = 403) -> None:
        """Answer every later `method` request whose path matches `pattern` with `status`."""
        with self.lock:
            self.failures.append((method, re.compile(pattern), status))

    def lose_answers(self, method: str, pattern: str, count: int = 1) -> None:
        """Carry out the next `count` `method` requests whose path matches `pattern`, then close the
        connection without answering (a network that drops the answer)."""
        with self.lock:
            self.lost_answers.append([method, re.compile(pattern), count])

    def answer_lost(self, method: str, path: str) -> bool:
        with self.lock:
            for lost in self.lost_answers:
                if lost[0] == method and lost[1].search(path) and lost[2] > 0:
                    lost[2] -= 1
                    return True
        return False

    def set_status(self, namespace: str, name: str, status: dict) -> None:
        with self.lock:
            self.jobs[(namespace, name)]["status"] = status

    def add_pod(
        self,
        namespace: str,
        job_name: str,
        *,
        index: int | None = None,
        phase: str = "Running",
        exit_code: int | None = None,
        reason: str | None = None,
        log: str = "",
    ) -> str:
        with self.lock:
            job = self.jobs[(namespace, job_name)]
            pod = self._new_pod(job, index)
            name = pod["metadata"]["name"]
            pod["status"]["phase"] = phase
            if exit_code is not None:
                terminated = {"exitCode": exit_code, "reason": reason or ("Completed" if exit_code == 0 else "Error")}
                pod["status"]["containerStatuses"] = [_terminated(exit_code, terminated["reason"])]
            self.pods[(namespace, name)] = pod
            self.pod_logs[(namespace, name)] = log
            return name

    def calls(self, method: str, pattern: str = "") -> list[tuple[str, dict]]:
        """The (path, query) of each recorded `method` request whose path matches `pattern`."""
        with self.lock:
            return [(path, query) for m, path, query in self.requests if m == method and re.search(pattern, path)]

    # -- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict | str]:
        with self.lock:
            self.requests.append((method, path, query))
            for failing_method, pattern, status in self.failures:
                if method == failing_method and pattern.search(path):
                    return status, _status(status, f"{method} {path} refused by the test", "Forbidden")
            if match := JOBS.match(path):
                return self._jobs(method, match.group(1), match.group(2), query, body)
            if match := PODS.match(path):
                return self._pods(method, match.group(1), match.group(2), bool(match.group(3)), query)
            if match := SECRETS.match(path):
                return self._secrets(method, match.group(1), match.group(2), body)
            return 404, _status(404, f"no route for {path}")

    def _jobs(self, method: str, namespace: str, name: str | None, query: dict, body: dict | None):
        if name is None and method == "GET":
            selector = query.get("labelSelector", [None])[0]
            items = [
                job
                for (ns, _), job in sorted(self.jobs.items())
                if ns == namespace and matches(selector, job["metadata"].get("labels", {}))
            ]
            return 200, {"apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": items}
        if name is None and method == "POST":
            name = body["metadata"]["name"]
            if (namespace, name) in self.jobs:
                return 409, _status(409, f'jobs.batch "{name}" already exists', "AlreadyExists")
            job = json.loads(json.dumps(body))
            job["metadata"].update(namespace=namespace, uid=secrets.token_hex(8), creationTimestamp=now())
            job["status"] = {}
            self.jobs[(namespace, name)] = job
            return 201, job
        job = self.jobs.get((namespace, name))
        if job is None:
            return 404, _status(404, f'jobs.batch "{name}" not found')
        if method == "GET":
            return 200, job
        if method == "PATCH":
            return 200, merge(job, body or {})
        if method == "DELETE":
            del self.jobs[(namespace, name)]
            self._control.pop((namespace, name), None)
            # The garbage collector: dependents go with their owner (any propagation but Orphan).
            uid = job["metadata"]["uid"]
            for key, secret in list(self.secrets.items()):
                owners = secret["metadata"].get("ownerReferences", [])
                if key[0] == namespace and any(owner.get("uid") == uid for owner in owners):
                    del self.secrets[key]
            for key, pod in list(self.pods.items()):
                if pod["metadata"]["labels"].get("job-name") == name and key[0] == namespace:
                    del self.pods[key]
                    if key in self._processes:
                        self._kill(self._processes.pop(key)[0])
            return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}}
        return 405, _status(405, f"{method} not allowed")

    def _pods(self, method: str, namespace: str, name: str | None, log: bool, query: dict):
        if method != "GET":
            return 405, _status(405, f"{method} not allowed")
        if name is None:
            selector = query.get("labelSelector", [None])[0]
            items = [
                pod
                for (ns, _), pod in sorted(self.pods.items())
                if ns == namespace and matches(selector, pod["metadata"]["labels"])
            ]
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        if (namespace, name) not in self.pods:
            return 404, _status(404, f'pods "{name}" not found')
        if not log:
            return 200, self.pods[(namespace, name)]
        text = self.pod_logs.get((namespace, name), "")
        if (namespace, name) in self._log_files:
            text = self._log_files[(namespace, name)].read_text(errors="replace")
        if "tailLines" in query:
            text = "".join(text.splitlines(keepends=True)[-int(query["tailLines"][0]) :])
        return 200, text

    def _secrets(self, method: str, namespace: str, name: str | None, body: dict | None):
        if name is None and method == "POST":
            name = body["metadata"]["name"]
            if (namespace, name) in self.secrets:
                return 409, _status(409, f'secrets "{name}" already exists', "AlreadyExists")
            self.secrets[(namespace, name)] = _stored_secret(namespace, body)
            return 201, self.secrets[(namespace, name)]
        if name is None:
            return 405, _status(405, f"{method} not allowed")
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return 404, _status(404, f'secrets "{name}" not found')
        if method == "GET":
            return 200, secret
        if method == "DELETE":
            del self.secrets[(namespace, name)]
            return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}}
        return 405, _status(405, f"{method} not allowed")

    # -- the Job controller and kubelet ------------------------------------------------------------

    def _new_pod(self, job: dict, index: int | None) -> dict:
        name = job["metadata"]["name"]
        labels = {**job["spec"]["template"]["metadata"].get("labels", {}), "job-name": name}
        annotations = {}
        if index is not None:
            labels[COMPLETION_INDEX] = annotations[COMPLETION_INDEX] = str(index)
        pod_name = f"{name}-{index}-{secrets.token_hex(3)}" if index is not None else f"{name}-{secrets.token_hex(3)}"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": job["metadata"]["namespace"],
                "labels": labels,
                "annotations": annotations,
                "creationTimestamp": now(),
            },
            "spec": job["spec"]["template"]["spec"],
            "status": {"phase": "Pending"},
        }

    def _run_controller(self) -> None:
        while not self._stopping.wait(0.05):
            with self.lock:
                for key, job in list(self.jobs.items()):
                    control = self._control.setdefault(key, {"started": time.monotonic(), "pods": {}, "done": {}})
                    self._reconcile(job, control)

    def _reconcile(self, job: dict, control: dict) -> None:
        spec, status, namespace = job["spec"], job["status"], job["metadata"]["namespace"]
        if any(c["type"] in ("Complete", "Failed") for c in status.get("conditions", [])):
            return
        status.setdefault("startTime", now())
        indexed = spec.get("completionMode") == "Indexed"
        size = spec.get("completions", 1)
        parallelism = spec.get("parallelism", 1)
        # Finished pods.
        for index, pod_key in list(control["pods"].items()):
            process, _ = self._processes[pod_key]
            if (code := process.poll()) is not None:
                code = 128 - code if code < 0 else code
                pod = self.pods[pod_key]
                pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
                pod["status"]["containerStatuses"] = [_terminated(code, "Completed" if code == 0 else "Error")]
                control["done"][index] = code
                del control["pods"][index]
                del self._processes[pod_key]
        failed = {index for index, code in control["done"].items() if code != 0}
        succeeded = {index for index, code in control["done"].items() if code == 0}
        # The deadline.
        deadline = spec.get("activeDeadlineSeconds")
        if deadline and time.monotonic() - control["started"] > deadline:
            for pod_key in control["pods"].values():
                self._kill(self._processes.pop(pod_key)[0])
                self.pods[pod_key]["status"]["phase"] = "Failed"
                self.pods[pod_key]["status"]["containerStatuses"] = [_terminated(137, "Error")]
            control["pods"].clear()
            self._finish(job, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
            return
        # Starting pods; like the kubelet, not before every Secret the container reads exists.
        stop_starting = (bool(failed) and not indexed) or self._missing_secret(job)
        waiting = [index for index in range(size) if index not in control["done"] and index not in control["pods"]]
        while waiting and len(control["pods"]) < parallelism and not stop_starting:
            index = waiting.pop(0)
            pod = self._new_pod(job, index if indexed else None)
            pod_key = (namespace, pod["metadata"]["name"])
            self.pods[pod_key] = pod
            self._start(job, pod, pod_key, index if indexed else None)
            control["pods"][index] = pod_key
        status.update(
            active=len(control["pods"]) or None,
            ready=len(control["pods"]),
            succeeded=len(succeeded) or None,
            failed=len(failed) or None,
        )
        if indexed:
            status["completedIndexes"] = compress(succeeded) or ""
            if "backoffLimitPerIndex" in spec:
                status["failedIndexes"] = compress(failed) or ""
        if failed and not indexed:
            self._finish(job, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif len(control["done"]) == size and not control["pods"]:
            if failed:
                self._finish(job, "Failed", "FailedIndexes", "Job has failed indexes")
            else:
                self._finish(job, "Complete", None, None)

    def _finish(self, job: dict, condition: str, reason: str | None, message: str | None) -> None:
        status = job["status"]
        status.update(active=None, ready=0)
        entry = {"type": condition, "status": "True", "lastProbeTime": now(), "lastTransitionTime": now()}
        if reason:
            entry.update(reason=reason, message=message)
        status["conditions"] = [*status.get("conditions", []), entry]
        if condition == "Complete":
            status["completionTime"] = now()

    def _start(self, job: dict, pod: dict, pod_key: tuple[str, str], index: int | None) -> None:
        container = pod["spec"]["containers"][0]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if index is not None:
            env["JOB_COMPLETION_INDEX"] = str(index)
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            elif ref := variable.get("valueFrom", {}).get("secretKeyRef"):
                env[variable["name"]] = self.secret_values(pod["metadata"]["namespace"], ref["name"])[ref["key"]]
            elif ref := variable.get("valueFrom", {}).get("fieldRef"):
                annotation = FIELD_REF.match(ref["fieldPath"]).group(1)
                env[variable["name"]] = pod["metadata"]["annotations"][annotation]
        log = self._logdir / f"{pod_key[0]}-{pod_key[1]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                container["args"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._processes[pod_key] = (process, log)
        self._log_files[pod_key] = log
        pod["status"]["phase"] = "Running"

    def _missing_secret(self, job: dict) -> bool:
        namespace = job["metadata"]["namespace"]
        for variable in job["spec"]["template"]["spec"]["containers"][0].get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["key"] not in self.secrets.get((namespace, ref["name"]), {}).get("data", {}):
                return True
        return False

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stored_secret(namespace: str, body: dict) -> dict:
    """A Secret as the API server keeps it: `stringData` merged into base64 `data`, a uid added."""
    secret = json.loads(json.dumps(body))
    data = secret.get("data", {})
    data.update({key: base64.b64encode(value.encode()).decode() for key, value in secret.pop("stringData", {}).items()})
    secret.update(apiVersion="v1", kind="Secret", data=data, type=secret.get("type", "Opaque"))
    secret["metadata"].update(namespace=namespace, uid=secrets.token_hex(8), creationTimestamp=now())
    return secret


def _terminated(code: int, reason: str) -> dict:
    return {
        "name": "job",
        "ready": False,
        "restartCount": 0,
        "image": "x",
        "imageID": "",
        "state": {"terminated": {"exitCode": code, "reason": reason}},
    }


def _status(code: int, message: str, reason: str = "NotFound") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKubernetes

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        code, payload = self.fake.handle(method, parts.path, parse_qs(parts.query), body)
        if self.fake.answer_lost(method, parts.path):
            self.close_connection = True
            return
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
