"""Command line for screening jobs, run where the shard job runs (a container on AWS Batch or
Kubernetes, or by hand):

    python -m screening.campaigns.cli score-shard --campaign 12 --shard 3
    python -m screening.campaigns.cli score-shard --campaign 12 --shards 3,7,9   # child N of an array job takes
                                                                       # the N-th listed shard
    python -m screening.campaigns.cli finalise --campaign 12

Without --shard the shard comes from the array index in the environment (JOB_INDEX,
AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX). Configuration (database, storage) comes from the
environment as for the portal. Exit status: 0 done or skipped, 1 the shard failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys

ARRAY_INDEX_VARIABLES = ("JOB_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX")


def array_index(environ: os._Environ | dict = os.environ) -> int | None:
    for name in ARRAY_INDEX_VARIABLES:
        if environ.get(name, "").strip().isdigit():
            return int(environ[name])
    return None


def pick_shard(shard: int | None, shards: list[int] | None, environ: os._Environ | dict = os.environ) -> int:
    """The shard this process scores: --shard, else the array index into --shards (or the index itself)."""
    if shard is not None:
        return shard
    index = array_index(environ)
    if index is None and shards and len(shards) == 1:
        return shards[0]  # a one-child array runs as a plain job, without an index
    if index is None:
        raise SystemExit("score-shard: give --shard, or run as an array job child (JOB_INDEX is not set)")
    if shards:
        if index >= len(shards):
            raise SystemExit(f"score-shard: array index {index} is beyond the {len(shards)} listed shards")
        return shards[index]
    return index


def _shard_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of shard numbers") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m screening.campaigns.cli", description="Screening shard jobs.")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score-shard", help="score one shard of a campaign")
    score.add_argument("--campaign", type=int, required=True)
    score.add_argument("--shard", type=int)
    score.add_argument("--shards", type=_shard_list, help="shards of an array job, picked by the array index")
    finalise = commands.add_parser("finalise", help="merge a campaign's shards once all are done")
    finalise.add_argument("--campaign", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.production")
    import django

    django.setup()
    from screening.campaigns import runner

    if args.command == "finalise":
        print(runner.finalise_campaign(args.campaign))
        return 0
    index = pick_shard(args.shard, args.shards)
    try:
        outcome = runner.score_campaign_shard(args.campaign, index, finalise_inline=True)
    except runner.ShardFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"campaign {args.campaign} shard {index}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
