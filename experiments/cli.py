"""Launch and watch HPO experiments from a terminal, over the REST API.

    python -m experiments.cli launch spec.yaml [--team alpha] [--wait]
    python -m experiments.cli list [--status running] [--team alpha]
    python -m experiments.cli status 12 [--wait]
    python -m experiments.cli trials 12 [--state complete]
    python -m experiments.cli pause 12 | resume 12 | cancel 12

The portal and your personal API token come from PORTAL_URL and PORTAL_TOKEN (or --url/--token).
With --wait, the experiment's page is printed at once, then each trial as it finishes (number, state,
value, seconds) and the progress whenever it changes, until the experiment ends.
Exit status: 0 done (with --wait: the experiment succeeded), 1 it failed or was cancelled or the
portal refused, 2 bad usage, a spec file that cannot be read, or an invalid spec (one line per
problem, with its field).

Needs only the standard library and `requests` (pinned in requirements/base.txt).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .client import PortalClient, PortalError

FINISHED = ("succeeded", "failed", "cancelled")
TRIAL_FINISHED = ("complete", "pruned", "failed", "cancelled")
REQUEST_FIELDS = ("team",)  # problems with the request rather than the spec
ACTIONS = {
    "pause": "pause an experiment: running trials finish, no new ones start",
    "resume": "resume a paused experiment",
    "cancel": "cancel an experiment (running trials are stopped)",
}


def describe(experiment: dict[str, Any]) -> str:
    """One line: status, trial counts against the budget, the best value so far."""
    progress = experiment["progress"]
    n = progress["trials"]
    budget = f"/{progress['max_trials']}" if progress.get("max_trials") else ""
    line = (
        f"{experiment['status']}: {n['complete']}{budget} complete, {n['active']} running, "
        f"{n['pruned']} pruned, {n['failed']} failed"
    )
    best = progress.get("best")
    if best:
        metric = experiment["spec"]["objective"][0]["metric"]
        line += f"; best {metric} {best['values'][0]:.4g} (trial {best['number']})"
    return line


def show(experiment: dict[str, Any]) -> None:
    print(f"experiment {experiment['id']} {experiment['name']} (team {experiment['team']})")
    print(f"  {describe(experiment)}")
    if experiment.get("status_reason"):
        print(f"  {experiment['status_reason']}")
    best = experiment["progress"].get("best")
    if best:
        print(f"  best parameters: {best['params']}")
    for name, key in (experiment.get("summary") or {}).items():
        print(f"  summary {name}: {key}")
    registration = experiment.get("registration") or {}
    if registration.get("version"):
        alias = f" (alias {registration['alias']})" if registration.get("alias") else ""
        print(f"  registered: {registration['model']} v{registration['version']}{alias}")


def fetch_all(client: PortalClient, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paginated list, following its `next` links."""
    items: list[dict[str, Any]] = []
    page: dict[str, Any] | None = client.get(path, params={**params, "page_size": "500"})
    while page is not None:
        items += page["results"]
        page = client.get(page["next"]) if page.get("next") else None
    return items


def list_experiments(client: PortalClient, args: argparse.Namespace) -> int:
    params = {"status": args.status} if args.status else {}
    experiments = [e for e in fetch_all(client, "/api/experiments/", params) if args.team in (None, e["team"])]
    for experiment in experiments:
        print(f"{experiment['id']:>6}  {experiment['name']} (team {experiment['team']})  {describe(experiment)}")
    if not experiments:
        print("no experiments", file=sys.stderr)
    return 0


def _seconds(trial: dict[str, Any]) -> str:
    start, end = trial.get("started_at"), trial.get("finished_at")
    if not start or not end:
        return "-"
    return f"{(datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds():.1f}"


def list_trials(client: PortalClient, args: argparse.Namespace) -> int:
    """One line per trial attempt: number, attempt, state, value (~ the latest intermediate one),
    seconds, parameters, and the reason of a trial that did not complete."""
    params = {"state": args.state} if args.state else {}
    trials = fetch_all(client, f"/api/experiments/{args.id}/trials/", params)
    print(f"{'number':>6} {'try':>3} {'state':<9} {'value':>12} {'seconds':>8}  parameters")
    for trial in trials:
        if trial["values"]:
            value = f"{trial['values'][0]:.6g}"
        elif trial["last_value"] is not None:
            value = f"~{trial['last_value']:.6g}"
        else:
            value = "-"
        number = "-" if trial["number"] is None else trial["number"]
        line = (
            f"{number:>6} {trial['attempt']:>3} {trial['state']:<9} {value:>12} {_seconds(trial):>8}  {trial['params']}"
        )
        if trial["reason"] and trial["state"] != "complete":
            line += f"  ({trial['reason']})"
        print(line)
    return 0


def act(client: PortalClient, experiment_id: int, action: str) -> int:
    show(client.post(f"/api/experiments/{experiment_id}/{action}/"))
    return 0


def pick_team(client: PortalClient, team: str | None) -> str:
    if team:
        return team
    teams = [t["slug"] for t in client.get("/api/me/")["teams"]]
    if len(teams) != 1:
        raise SystemExit(f"give --team: you belong to {', '.join(teams) or 'no team'}")
    return teams[0]


class SpecFileError(Exception):
    """The spec file cannot be read; the message is one line naming the file."""


def read_spec(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpecFileError(f"{path}: is a directory, not a spec file") from None
    except UnicodeDecodeError as exc:
        raise SpecFileError(f"{path}: not UTF-8 text (byte {exc.start}); a spec is YAML or JSON text") from None
    except OSError as exc:
        raise SpecFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def refusal_lines(spec_path: str, exc: PortalError) -> list[str]:
    """One line per problem of a refused spec, each with its field (`search_space.x.low: …`)."""
    lines = []
    for field, messages in exc.fields.items():
        where = "error" if field in REQUEST_FIELDS else spec_path
        lines += [f"{where}: {field}: {' '.join(str(message).split())}" for message in messages]
    return lines or [f"{spec_path}: {exc.message}"]


def launch(client: PortalClient, args: argparse.Namespace) -> int:
    try:
        text = read_spec(args.spec)
    except SpecFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    body = {"team": pick_team(client, args.team), "spec_yaml": text}
    try:
        experiment = client.post("/api/experiments/", body)
    except PortalError as exc:
        if exc.status == 400:
            print("\n".join(refusal_lines(args.spec, exc)), file=sys.stderr)
            return 2
        raise
    print(f"experiment {experiment['id']} {experiment['name']}: {experiment['status']}", flush=True)
    return wait(client, experiment["id"], args.interval) if args.wait else 0


def page_url(client: PortalClient, experiment_id: int) -> str:
    return client.url(f"/experiments/{experiment_id}/")


def trial_line(trial: dict[str, Any], metric: str) -> str:
    """A finished trial: number (and attempt), state, value (~ the last intermediate one), seconds."""
    attempt = f" (attempt {trial['attempt']})" if trial["attempt"] > 1 else ""
    line = f"trial {trial['number'] if trial['number'] is not None else '-'}{attempt}: {trial['state']}"
    if trial["values"]:
        line += f", {metric} {trial['values'][0]:.6g}"
    elif trial["last_value"] is not None:
        line += f", {metric} ~{trial['last_value']:.6g} at step {trial['last_step']}"
    if (seconds := _seconds(trial)) != "-":
        line += f", {seconds} s"
    if trial["reason"] and trial["state"] in ("failed", "cancelled"):
        line += f" ({' '.join(trial['reason'].split())[:200]})"
    return line


def wait(client: PortalClient, experiment_id: int, interval: float) -> int:
    """Print the experiment's page at once, then each trial as it finishes and the progress whenever
    it changes, until the experiment ends."""
    print(page_url(client, experiment_id), flush=True)
    start, last, reported = time.monotonic(), "", set()

    def say(text: str) -> None:
        elapsed = int(time.monotonic() - start)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", flush=True)

    while True:
        experiment = client.get(f"/api/experiments/{experiment_id}/")
        metric = experiment["spec"]["objective"][0]["metric"]
        for trial in fetch_all(client, f"/api/experiments/{experiment_id}/trials/", {}):
            if trial["state"] in TRIAL_FINISHED and trial["id"] not in reported:
                reported.add(trial["id"])
                say(trial_line(trial, metric))
        line = describe(experiment)
        if line != last:
            say(line)
            last = line
        if experiment["status"] in FINISHED and experiment.get("finalised_at"):
            show(experiment)
            return 0 if experiment["status"] == "succeeded" else 1
        time.sleep(interval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m experiments.cli", description="HPO experiments.")
    parser.add_argument("--url", default=os.environ.get("PORTAL_URL", ""), help="the portal (PORTAL_URL)")
    parser.add_argument("--token", default=os.environ.get("PORTAL_TOKEN", ""), help="API token (PORTAL_TOKEN)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("launch", help="launch an experiment from a spec file (YAML or JSON)")
    run.add_argument("spec")
    run.add_argument("--team", help="team slug (default: your only team)")
    run.add_argument("--wait", action="store_true", help="print progress until it ends")
    run.add_argument("--interval", type=float, default=3.0, help="seconds between progress checks")
    listing = commands.add_parser("list", help="the experiments of your teams, newest first")
    listing.add_argument("--status", help="only those in this status (queued, running, paused, succeeded...)")
    listing.add_argument("--team", help="only this team's (slug)")
    status = commands.add_parser("status", help="show an experiment")
    status.add_argument("id", type=int)
    status.add_argument("--wait", action="store_true", help="print progress until it ends")
    status.add_argument("--interval", type=float, default=3.0, help="seconds between progress checks")
    trials = commands.add_parser("trials", help="an experiment's trials, retries included")
    trials.add_argument("id", type=int)
    trials.add_argument("--state", help="only trials in this state (running, complete, pruned, failed...)")
    for action, text in ACTIONS.items():
        commands.add_parser(action, help=text).add_argument("id", type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.url or not args.token:
        print("set PORTAL_URL and PORTAL_TOKEN (or give --url and --token)", file=sys.stderr)
        return 2
    client = PortalClient(args.url, args.token, attempts=3)
    try:
        if args.command == "launch":
            return launch(client, args)
        if args.command == "list":
            return list_experiments(client, args)
        if args.command == "trials":
            return list_trials(client, args)
        if args.command == "status":
            if args.wait:
                return wait(client, args.id, args.interval)
            show(client.get(f"/api/experiments/{args.id}/"))
            return 0
        return act(client, args.id, args.command)
    except PortalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (requests.ConnectionError, requests.Timeout) as exc:
        print(f"error: cannot reach the portal at {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:  # e.g. a PORTAL_URL without http://
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted (the experiment goes on in the portal)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
