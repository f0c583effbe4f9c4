"""The local backend with real processes: process groups, timeouts, state readable from any process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compute import JobSpec, JobState, SecretRef
from compute.local import LocalBackend

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "ignored-locally"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    return LocalBackend(tmp_path / "jobs", cancel_grace_seconds=1)


def wait_for_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)
    return path.read_text()


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.02)


# A job that starts a grandchild, records its pid, and waits. With IGNORE the grandchild shrugs off SIGTERM.
GRANDCHILD = """
import signal, subprocess, sys, time
code = "import signal, time; {ignore}; open('grandchild.ready', 'w').write('1'); time.sleep(120)"
child = subprocess.Popen([sys.executable, "-c", code])
open("grandchild.pid", "w").write(str(child.pid))
time.sleep(120)
"""


def test_cancel_ends_the_whole_process_group_including_grandchildren(backend):
    handle = backend.submit(JobSpec("grandchild", IMAGE, python(GRANDCHILD.format(ignore="pass"))))
    jobdir = backend.root / handle
    grandchild = int(wait_for_file(jobdir / "grandchild.pid"))
    runner = json.loads((jobdir / "pid").read_text())["pid"]

    backend.cancel(handle, reason="user asked")

    wait_until_dead(grandchild)
    wait_until_dead(runner)
    assert backend.status([handle])[handle].state is JobState.CANCELLED


def test_cancel_kills_what_ignores_sigterm_after_the_grace_period(backend):
    code = GRANDCHILD.format(ignore="signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    handle = backend.submit(JobSpec("stubborn", IMAGE, python(code)))
    jobdir = backend.root / handle
    grandchild = int(wait_for_file(jobdir / "grandchild.pid"))
    wait_for_file(jobdir / "grandchild.ready")

    started = time.monotonic()
    backend.cancel(handle)

    assert 0.9 <= time.monotonic() - started < 5  # waited the 1 s grace, then SIGKILL
    wait_until_dead(grandchild)
    assert backend.status([handle])[handle].state is JobState.CANCELLED


def test_a_timeout_ends_the_process_group_and_fails_the_job(backend):
    spec = JobSpec("slow", IMAGE, python(GRANDCHILD.format(ignore="pass")), timeout_seconds=1)
    handle = backend.submit(spec)
    grandchild = int(wait_for_file(backend.root / handle / "grandchild.pid"))

    status = backend.wait([handle], timeout=15)[handle]

    assert status.state is JobState.FAILED
    assert status.reason == "timed out after 1s"
    wait_until_dead(grandchild)


def test_another_process_reads_the_state_and_can_cancel(backend, tmp_path):
    gate = tmp_path / "go"
    handle = backend.submit(
        JobSpec("shared", IMAGE, python(f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)"))
    )
    sleeper = backend.submit(JobSpec("sleeper", IMAGE, python("import time; time.sleep(120)")))
    other = LocalBackend(backend.root)  # as another Celery worker on this host would have

    deadline = time.monotonic() + 10
    while other.status([handle])[handle].state is not JobState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    gate.touch()
    assert other.wait([handle], timeout=10)[handle].state is JobState.SUCCEEDED

    # A separate process (another worker) reads one job's outcome and cancels the other job.
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from compute.local import LocalBackend; "
        "backend = LocalBackend(sys.argv[2], cancel_grace_seconds=1); "
        "print(backend.status([sys.argv[3]])[sys.argv[3]].state.value); backend.cancel(sys.argv[4], 'from afar')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(backend.root), handle, sleeper],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "succeeded"
    status = backend.status([sleeper])[sleeper]
    assert (status.state, status.reason) == (JobState.CANCELLED, "from afar")
    wait_until_dead(json.loads((backend.root / sleeper / "pid").read_text())["pid"])


def test_a_runner_killed_without_a_result_is_lost(backend):
    handle = backend.submit(JobSpec("doomed", IMAGE, python("import time; time.sleep(120)")))
    jobdir = backend.root / handle
    runner = json.loads(wait_for_file(jobdir / "pid"))["pid"]
    assert backend.status([handle])[handle].state is JobState.RUNNING

    os.killpg(runner, signal.SIGKILL)  # as the OOM killer or a reboot would
    wait_until_dead(runner)

    status = backend.status([handle])[handle]
    assert status.state is JobState.LOST
    assert "without recording a result" in status.reason


def test_array_children_run_a_few_at_a_time_and_report_their_states(tmp_path):
    backend = LocalBackend(tmp_path / "jobs", array_parallelism=2)
    gate = tmp_path / "go"
    code = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint(os.environ['JOB_INDEX'])"
    handle = backend.submit(JobSpec("shards", IMAGE, python(code), array_size=3))

    deadline = time.monotonic() + 10
    while (status := backend.status([handle])[handle]).children != {
        0: JobState.RUNNING,
        1: JobState.RUNNING,
        2: JobState.PENDING,
    }:
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status.state is JobState.RUNNING
    gate.touch()

    status = backend.wait([handle], timeout=15)[handle]
    assert status.children == dict.fromkeys(range(3), JobState.SUCCEEDED)
    assert [backend.logs(handle, index=index).strip() for index in range(3)] == ["0", "1", "2"]


def test_cancelling_an_array_keeps_finished_children_and_cancels_the_rest(tmp_path):
    backend = LocalBackend(tmp_path / "jobs", array_parallelism=1, cancel_grace_seconds=1)
    code = "import os, sys, time\nif os.environ['JOB_INDEX'] != '0': time.sleep(120)"
    handle = backend.submit(JobSpec("partial", IMAGE, python(code), array_size=3))
    deadline = time.monotonic() + 10
    while backend.status([handle])[handle].children[1] is not JobState.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    backend.cancel(handle)

    status = backend.status([handle])[handle]
    assert status.state is JobState.CANCELLED
    assert status.children == {0: JobState.SUCCEEDED, 1: JobState.CANCELLED, 2: JobState.CANCELLED}


def test_the_job_gets_the_parent_environment_but_no_stray_array_index(backend, monkeypatch):
    monkeypatch.setenv("PORTAL_PARENT_VARIABLE", "inherited")
    monkeypatch.setenv("JOB_INDEX", "9")
    code = "import os; print(os.environ['PORTAL_PARENT_VARIABLE'], os.environ.get('JOB_INDEX'), os.getcwd())"
    handle = backend.submit(JobSpec("env", IMAGE, python(code)))

    assert backend.wait([handle], timeout=10)[handle].state is JobState.SUCCEEDED
    assert backend.logs(handle).split() == ["inherited", "None", str(backend.root / handle)]


def test_a_secret_the_backend_was_not_given_stops_submit_before_anything_runs(backend):
    spec = JobSpec("secretive", IMAGE, python("pass"), secret_env={"TOKEN": SecretRef("vault", "token")})

    with pytest.raises(ValueError, match=r"secret 'vault' key 'token'.*secrets=\{name: \{key: value\}\}"):
        backend.submit(spec)
    assert list(backend.root.iterdir()) == []


def test_a_command_that_cannot_start_fails_with_127(backend):
    handle = backend.submit(JobSpec("missing", IMAGE, ["/no/such/program", "--flag"]))

    status = backend.wait([handle], timeout=10)[handle]
    assert (status.state, status.exit_code) == (JobState.FAILED, 127)
    assert "/no/such/program" in status.reason


def test_a_job_killed_by_a_signal_reports_it_like_a_container(backend):
    handle = backend.submit(JobSpec("killed", IMAGE, python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")))

    status = backend.wait([handle], timeout=10)[handle]
    assert (status.state, status.exit_code, status.reason) == (JobState.FAILED, 137, "killed by SIGKILL")


def test_logs_return_only_the_tail(backend):
    handle = backend.submit(JobSpec("chatty", IMAGE, python("print('x' * 5000 + 'END')")))
    backend.wait([handle], timeout=10)

    assert backend.logs(handle, tail_bytes=10) == "xxxxxxEND\n"


def test_the_runner_runs_as_a_module_too(tmp_path):
    jobdir = tmp_path / "by-hand"
    jobdir.mkdir()
    subprocess.run(
        [sys.executable, "-m", "compute.local_runner", str(jobdir), "--", sys.executable, "-c", "print(42)"],
        cwd=ROOT,
        check=True,
        timeout=60,
    )

    assert json.loads((jobdir / "exit.json").read_text())["exit_code"] == 0
    assert (jobdir / "log.txt").read_text() == "42\n"


def test_a_malformed_handle_is_lost_not_a_path(backend):
    assert backend.status(["../../etc"])["../../etc"].state is JobState.LOST
    backend.cancel("../../etc")
    assert backend.logs("../../etc") == ""


def test_a_job_cancelled_before_its_runner_starts_never_runs(tmp_path):
    jobdir = tmp_path / "early"
    jobdir.mkdir()
    (jobdir / "cancelled.json").write_text('{"reason": "changed my mind"}')
    command = [sys.executable, "-c", "open('ran', 'w').write('1')"]

    subprocess.run(
        [sys.executable, "-m", "compute.local_runner", str(jobdir), "--", *command],
        cwd=ROOT,
        timeout=60,
        start_new_session=True,
        check=False,
    )

    assert not (jobdir / "ran").exists()
    assert not (jobdir / "log.txt").exists()


def test_background_processes_end_with_the_job_as_in_a_container(backend):
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open('background.pid', 'w').write(str(child.pid))"
    )
    handle = backend.submit(JobSpec("leaves-a-daemon", IMAGE, python(code)))

    assert backend.wait([handle], timeout=10)[handle].state is JobState.SUCCEEDED
    wait_until_dead(int((backend.root / handle / "background.pid").read_text()))


def test_cancelling_a_lost_job_leaves_it_lost(backend):
    handle = backend.submit(JobSpec("doomed", IMAGE, python("import time; time.sleep(120)")))
    runner = json.loads(wait_for_file(backend.root / handle / "pid"))["pid"]
    os.killpg(runner, signal.SIGKILL)
    wait_until_dead(runner)

    backend.cancel(handle)

    assert backend.status([handle])[handle].state is JobState.LOST


def test_runners_are_forked_by_a_server_that_is_replaced_when_it_dies(backend):
    from compute.local import _runner_server

    first = backend.submit(JobSpec("one", IMAGE, python("print('one')")))
    server = _runner_server(backend.python).process
    assert server is not None
    runner = json.loads(wait_for_file(backend.root / first / "pid"))
    assert runner["start"] is not None  # the pid file names the process by its start time too
    assert backend.wait([first], timeout=10)[first].state is JobState.SUCCEEDED

    server.kill()
    server.wait()
    second = backend.submit(JobSpec("two", IMAGE, python("print('two')")))

    assert backend.wait([second], timeout=10)[second].state is JobState.SUCCEEDED
    assert backend.logs(second).strip() == "two"
    assert _runner_server(backend.python).process.pid != server.pid


def test_jobs_outlive_the_runner_server_and_a_recycled_pid_is_not_their_runner(backend):
    from compute.local import _runner_server

    handle = backend.submit(JobSpec("long", IMAGE, python("import time; time.sleep(120)")))
    record = json.loads(wait_for_file(backend.root / handle / "pid"))
    _runner_server(backend.python).stop()  # as when the worker that owned it exits

    assert backend.status([handle])[handle].state is JobState.RUNNING
    (backend.root / handle / "pid").write_text(json.dumps({"pid": record["pid"], "start": record["start"] + 1}))
    assert backend.status([handle])[handle].state is JobState.LOST  # same pid, another process
    (backend.root / handle / "pid").write_text(json.dumps(record))
    backend.cancel(handle)
    wait_until_dead(record["pid"])
    assert backend.status([handle])[handle].state is JobState.CANCELLED
