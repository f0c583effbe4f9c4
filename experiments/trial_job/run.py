"""Run one trial (see the package docstring). Exit status: 0 done or pruned, 1 failed, 2 bad setup."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

from ..client import PortalClient, PortalError
from . import STANDARDISATION_HEADER

logger = logging.getLogger("experiments.trial_job")

# What the job keeps of its environment when told to drop the rest (the local backend passes the
# worker's whole environment on): enough to run Python and reach the portal, no credentials.
KEPT_VARIABLES = {
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    "VIRTUAL_ENV", "PORTAL_URL", "TRIAL_TOKEN", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
}  # fmt: skip


# What the portal answers once the trial is over (403: its token opens nothing any more; 409: it
# ended while the request ran): stop, report nothing more.
FINISHED_ANSWERS = (403, 409)


class Pruned(Exception):
    """The portal pruned the trial: stop training, report nothing more."""


class Stopped(Exception):
    """The trial finished on the portal's side (cancelled, timed out): stop."""


def clean_environment(environ: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k in KEPT_VARIABLES or k.startswith("LC_")}


def trial_id_of(token: str) -> int:
    """The trial id a token is for (in clear text in the token; the portal checks the signed copy)."""
    prefix, _, rest = token.partition(".")
    hint = rest.partition(".")[0]
    if prefix != "trial" or not hint.isdigit():
        raise ValueError("TRIAL_TOKEN is not a trial token")
    return int(hint)


class TrialJob:
    def __init__(self, client: PortalClient, trial_id: int) -> None:
        self.client = client
        self.base = f"/api/trials/{trial_id}"
        self.stop = threading.Event()
        self.stopped_by_portal = False
        self.workdir: Path | None = None

    # -- protocol ------------------------------------------------------------------------------
    def report(self, step: int, value: float) -> bool:
        """The core trainer's callback: send the value, raise `Pruned` when the portal says so."""
        if self.stopped_by_portal:
            raise Stopped("the portal finished this trial")
        try:
            answer = self.client.post(f"{self.base}/report/", {"step": int(step), "value": float(value)})
        except PortalError as exc:
            if exc.status in FINISHED_ANSWERS:
                raise Stopped(exc.message) from None
            raise
        if answer.get("prune"):
            raise Pruned(f"pruned at step {step}")
        return False

    def _heartbeat_loop(self, seconds: float) -> None:
        while not self.stop.wait(seconds):
            try:
                if self.client.post(f"{self.base}/heartbeat/").get("stop"):
                    self.stopped_by_portal = True
            except PortalError as exc:
                if exc.status in FINISHED_ANSWERS:
                    self.stopped_by_portal = True
                else:
                    logger.warning("heartbeat failed: %s", exc)
            except Exception as exc:  # a missed heartbeat is not fatal; the portal tolerates a few
                logger.warning("heartbeat failed: %s", exc)

    def fail(self, reason: str) -> None:
        try:
            self.client.post(f"{self.base}/fail/", {"reason": reason[-4000:]}, ok=(200, *FINISHED_ANSWERS))
        except Exception as exc:
            logger.error("could not report the failure: %s", exc)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            job = self.client.get(f"{self.base}/job/")
        except PortalError as exc:
            print(f"trial job: cannot fetch the job: {exc}", file=sys.stderr)
            return 0 if exc.status in FINISHED_ANSWERS else 2
        print(f"trial {job['trial']} (number {job['number']}, attempt {job['attempt']}): {job['params']}", flush=True)
        beat = threading.Thread(target=self._heartbeat_loop, args=(job["heartbeat_seconds"],), daemon=True)
        beat.start()
        try:
            metrics, archive_dir = self.train(job)
            return 0 if metrics is None else self.finish(metrics, archive_dir)
        except Pruned as exc:
            print(f"trial job: {exc}", flush=True)
            return 0
        except Stopped as exc:
            print(f"trial job: stopped: {exc}", flush=True)
            return 0
        except PortalError as exc:
            if exc.status in FINISHED_ANSWERS:  # e.g. the dataset or package call after the trial ended
                print(f"trial job: the portal had already finished this trial: {exc.message}", flush=True)
                return 0
            traceback.print_exc()
            self.fail(f"PortalError: {exc}")
            return 1
        except Exception as exc:
            traceback.print_exc()
            self.fail(f"{type(exc).__name__}: {exc}")
            return 1
        finally:
            self.stop.set()
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def download_dataset(self, path: Path) -> tuple[Any, bool]:
        """Save the dataset CSV to `path`; (the standardisation options the model must record, whether
        the SMILES already went through them), from the endpoint's header. A portal that sends no such
        header sends a file's SMILES as written: they get the default options here."""
        from chemcore.standardise import StandardiseOptions

        with self.client.request("GET", f"{self.base}/dataset/", stream=True) as response, path.open("wb") as out:
            for chunk in response.iter_content(1 << 20):
                out.write(chunk)
            declared = json.loads(response.headers.get(STANDARDISATION_HEADER) or "null")
        if declared is None:
            return StandardiseOptions(), False
        return StandardiseOptions.from_dict(declared["options"]), bool(declared["standardised"])

    def train(self, job: dict[str, Any]) -> tuple[dict[str, Any] | None, Path | None]:
        from chemcore.training import cross_validate, load_training_table, train_and_package

        spec = job["spec"]
        if not spec["model"].get("family"):
            self.fail("experiments.trial_job trains the core trainer's families; a custom image runs its own command")
            return None, None
        dataset, model = spec["dataset"], spec["model"]
        self.workdir = Path(tempfile.mkdtemp(prefix="trial-"))
        data_path = self.workdir / "dataset.csv"
        options, standardised = self.download_dataset(data_path)
        table = load_training_table(data_path, target="target", smiles_column="smiles", task=dataset["task"])
        print(f"dataset: {table.summary()}; {'standardised' if standardised else 'standardising'} with "
              f"{options.to_dict()}", flush=True)  # fmt: skip
        params = {**model.get("fixed_params", {}), **job["params"]}
        metric = job["objectives"][0]["metric"]
        common = {
            "smiles": table.smiles,
            "y": table.targets,
            "task": dataset["task"],
            "family": model["family"],
            "params": params,
            "featuriser_spec": model.get("featuriser"),
            "metric": metric,
            # recorded in the package, so the predictor standardises raw input as these SMILES were
            "standardisation": options,
            "assume_standardised": standardised,
        }
        out_dir = self.workdir / "package"
        extra = {"hpo": {"experiment": job["experiment"], "trial": job["trial"], "number": job["number"]}}
        source = f"experiment {job['experiment']} dataset"
        # The model an experiment registers is refit on every row; the trial's held-out metrics stay its record.
        refit = bool(spec.get("register"))
        if dataset.get("cv_folds"):
            split = dataset["split"]
            cv = cross_validate(
                **common, folds=dataset["cv_folds"], kind=split["kind"], generic=split.get("generic", False),
                seed=spec["seed"], callback=self.report,
            )  # fmt: skip
            extra["hpo"]["cv"] = {"mean": cv.mean, "std": cv.std, "folds": len(cv.fold_metrics)}
            train_and_package(
                **common, split=dataset["split"], seed=spec["seed"], out_dir=out_dir, target_name=dataset["target"],
                data_source=source, refit=True, extra=extra,
            )  # fmt: skip
            metrics = dict(cv.mean)
        else:
            manifest = train_and_package(
                **common, split=dataset["split"], seed=spec["seed"], callback=self.report, out_dir=out_dir,
                target_name=dataset["target"], data_source=source, refit=refit, extra=extra,
            )  # fmt: skip
            metrics = dict(manifest.metrics)
        print(f"metrics: {metrics}", flush=True)
        return metrics, out_dir

    def finish(self, metrics: dict[str, Any], package_dir: Path | None) -> int:
        from chemcore.package import pack

        if package_dir is not None:
            archive = pack(package_dir, package_dir.with_suffix(".tar.gz"))
            with archive.open("rb") as body:
                self.client.request(
                    "PUT", f"{self.base}/package/", data=body, headers={"Content-Type": "application/octet-stream"}
                )
        self.client.post(f"{self.base}/complete/", {"metrics": metrics})  # a finished trial: see `run`
        print("trial job: complete", flush=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.trial_job", description=__doc__)
    parser.add_argument(
        "--clean-env", action="store_true", help="drop inherited variables (credentials) and start again"
    )
    args = parser.parse_args(argv)
    if args.clean_env:
        argv = [sys.executable, "-m", "experiments.trial_job"]
        os.execve(sys.executable, argv, clean_environment(dict(os.environ)))  # noqa: S606 - no shell involved
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url, token = os.environ.get("PORTAL_URL", ""), os.environ.get("TRIAL_TOKEN", "")
    if not url or not token:
        print("trial job: set PORTAL_URL and TRIAL_TOKEN", file=sys.stderr)
        return 2
    try:
        trial_id = trial_id_of(token)
    except ValueError as exc:
        print(f"trial job: {exc}", file=sys.stderr)
        return 2
    return TrialJob(PortalClient(url, token), trial_id).run()
