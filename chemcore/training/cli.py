"""Command line: `fit` a model on a table and write a package; `predict` SMILES with a package (CSV out).

    python -m chemcore.training fit --data egfr.csv --smiles-col smiles --target pIC50 \
        --family rf --task regression --params '{"n_estimators": 300}' --out /tmp/egfr-rf
    python -m chemcore.training predict --package /tmp/egfr-rf --smiles-file library.smi

`fit` standardises the SMILES (default options) before training unless told `--no-standardise`;
the package records it, so the predictor standardises whatever it is given in the same way.

Bad arguments (unknown family, malformed JSON, unknown parameter, unreadable file, broken package)
print one `error:` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..package import PackageError
from ..readers import LibraryFormatError
from ..splits import SPLIT_KINDS
from .params import FAMILIES

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad argument: reported as `error: ...` with exit status 2."""


def parse_json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, like '{{\"n_estimators\": 300}}'")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chemcore.training", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="train a model and write a package")
    fit.add_argument("--data", required=True, help="training table: CSV/TSV/SMILES/SDF, optionally gzipped")
    fit.add_argument("--smiles-col", default=None, help="SMILES column (default: detected)")
    fit.add_argument("--target", required=True, help="target column / SDF data field")
    fit.add_argument("--units", default=None, help="target units, e.g. pIC50 or log(mol/L)")
    fit.add_argument("--family", required=True, choices=FAMILIES)
    fit.add_argument("--task", default="regression", choices=("regression", "classification"))
    fit.add_argument("--params", default=None, help="hyper-parameters as a JSON object")
    fit.add_argument("--featuriser", default=None, help="featuriser spec as JSON (default Morgan r=2, 2048 bits)")
    fit.add_argument("--split", default="scaffold", choices=SPLIT_KINDS)
    fit.add_argument("--test-fraction", type=float, default=0.2)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--metric", default=None, help="monitored metric (default rmse / roc_auc)")
    fit.add_argument(
        "--standardise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="standardise SMILES with the default options first (the default; recorded in the package, so "
        "predictions standardise their inputs the same way); --no-standardise uses them as given",
    )
    fit.add_argument("--refit", action="store_true", help="refit the packaged model on all rows")
    fit.add_argument("--source", default=None, help="free text recorded as training_data.source")
    fit.add_argument("--out", required=True, help="package directory to create")
    fit.add_argument("--overwrite", action="store_true")

    predict = sub.add_parser("predict", help="predict SMILES with a package; CSV on stdout")
    predict.add_argument("--package", required=True, help="package directory")
    predict.add_argument("--smiles-file", required=True, help="SMILES/CSV/SDF file")
    predict.add_argument("--smiles-col", default=None)
    predict.add_argument("--batch-size", type=int, default=1024)
    predict.add_argument("--assume-standardised", action="store_true")
    return parser


def run_fit(args: argparse.Namespace) -> int:
    from ..standardise import StandardiseOptions
    from .api import train_and_package
    from .dataset import load_training_table

    params = parse_json_object(args.params, "--params")
    featuriser = parse_json_object(args.featuriser, "--featuriser")
    if not Path(args.data).is_file():
        raise UsageError(f"--data {args.data}: no such file")
    table = load_training_table(args.data, target=args.target, smiles_column=args.smiles_col, task=args.task)
    print(table.summary(), file=sys.stderr)
    for line in table.problems[:5]:
        print(f"  {line}", file=sys.stderr)
    manifest = train_and_package(
        smiles=table.smiles,
        y=table.targets,
        task=args.task,
        family=args.family,
        params=params,
        featuriser_spec=featuriser,
        split={"kind": args.split, "test_fraction": args.test_fraction, "seed": args.seed},
        seed=args.seed,
        metric=args.metric,
        standardisation=StandardiseOptions() if args.standardise else None,
        refit=args.refit,
        out_dir=args.out,
        target_name=args.target,
        target_units=args.units,
        data_source=args.source or f"{Path(args.data).name} ({table.summary()})",
        overwrite=args.overwrite,
        extra={"read_counts": table.counts},
    )
    report = {
        "package": str(Path(args.out)),
        "metrics": manifest.metrics,
        "n_train": manifest.training["n_train"] if manifest.training else None,
        "n_test": manifest.training["n_test"] if manifest.training else None,
        "dropped": manifest.training["dropped"] if manifest.training else {},
        "read_counts": table.counts,
    }
    print(json.dumps(report, indent=2))
    return 0


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def run_predict(args: argparse.Namespace) -> int:
    from ..predictor import Predictor
    from ..rdkit_logs import quiet
    from ..readers import open_library

    if not Path(args.smiles_file).is_file():
        raise UsageError(f"--smiles-file {args.smiles_file}: no such file")
    if args.batch_size < 1:
        raise UsageError("--batch-size must be positive")
    predictor = Predictor.load(args.package)
    classes = predictor.classes or []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["number", "name", "input", "value", "uncertainty", *[f"p_{c}" for c in classes], "valid", "error"])
    with open_library(args.smiles_file, smiles_column=args.smiles_col) as reader:
        pending: list[tuple[int, str | None, str, str | None]] = []

        def flush() -> None:
            batch = predictor.predict_all(
                [p[2] for p in pending], batch_size=args.batch_size, assume_standardised=args.assume_standardised
            )
            for k, (number, name, text, read_error) in enumerate(pending):
                probs = [] if batch.probabilities is None else [_fmt(p) for p in batch.probabilities[k]]
                error = read_error or batch.errors[k]
                writer.writerow(
                    [
                        number,
                        name or "",
                        text,
                        _fmt(batch.value[k]),
                        _fmt(batch.uncertainty[k]),
                        *probs,
                        bool(batch.valid[k]) and read_error is None,
                        error or "",
                    ]
                )
            pending.clear()

        for item in reader:
            if item.ok and item.smiles is not None:
                pending.append((item.number, item.name, item.smiles, None))
            elif item.ok:  # SDF: convert the molblock
                from rdkit import Chem

                with quiet():
                    mol = Chem.MolFromMolBlock(item.molblock or "")
                pending.append((item.number, item.name, Chem.MolToSmiles(mol) if mol else "", None))
            else:
                pending.append((item.number, None, item.excerpt, f"unreadable record: {item.reason}"))
            if len(pending) >= args.batch_size:
                flush()
        if pending:
            flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_fit(args) if args.command == "fit" else run_predict(args)
    except (UsageError, ValueError, PackageError, LibraryFormatError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `... predict | head`: the reader went away; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
