"""Launch and watch HPO experiments from a terminal, over the REST API.

    python -m experiments.cli launch spec.yaml [--team alpha] [--wait]
    python -m experiments.cli list [--status running] [--team alpha]
    python -m experiments.cli status 12 [--wait]
    python -m experiments.cli trials 12 [--state complete]
    python -m experiments.cli pause 12 | resume 12 | cancel 12

The portal and your personal API token come from PORTAL_URL and PORTAL_TOKEN (or --url/--token).
Exit status: 0 done (with --wait: the experiment succeeded), 1 it failed or was cancelled or the
portal refused, 2 bad usage or an invalid spec (each problem printed with its field).
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


def launch(client: PortalClient, args: argparse.Namespace) -> int:
    text = Path(args.spec).read_text()
    body = {"team": pick_team(client, args.team), "spec_yaml": text}
    try:
        experiment = client.post("/api/experiments/", body)
    except PortalError as exc:
        if exc.status == 400:
            print(f"{args.spec}: the spec was refused", file=sys.stderr)
            for field, messages in exc.fields.items():
                for message in messages:
                    print(f"  {field}: {message}", file=sys.stderr)
            return 2
        raise
    print(f"experiment {experiment['id']} {experiment['name']}: {experiment['status']}", flush=True)
    return wait(client, experiment["id"], args.interval) if args.wait else 0


def wait(client: PortalClient, experiment_id: int, interval: float) -> int:
    """Print progress whenever it changes until the experiment ends."""
    start, last = time.monotonic(), ""
    while True:
        experiment = client.get(f"/api/experiments/{experiment_id}/")
        line = describe(experiment)
        if line != last:
            elapsed = int(time.monotonic() - start)
            print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}", flush=True)
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
    run.add_argument("--interval", type=float, default=5.0, help="seconds between progress checks")
    listing = commands.add_parser("list", help="the experiments of your teams, newest first")
    listing.add_argument("--status", help="only those in this status (queued, running, paused, succeeded...)")
    listing.add_argument("--team", help="only this team's (slug)")
    status = commands.add_parser("status", help="show an experiment")
    status.add_argument("id", type=int)
    status.add_argument("--wait", action="store_true", help="print progress until it ends")
    status.add_argument("--interval", type=float, default=5.0, help="seconds between progress checks")
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


if __name__ == "__main__":
    sys.exit(main())
