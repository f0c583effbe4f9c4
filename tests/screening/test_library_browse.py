"""Browsing a library: keyset pages read from the shards, a bounded substructure search that goes on
where it stopped, property distributions computed once per library, all team-scoped."""

import io
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from rdkit import Chem, RDConfig
from rdkit.Chem import Descriptors, Lipinski

from portal.celery import app
from screening import library_stats
from screening.distributions import Distribution
from screening.models import Library
from tests.access import ANONYMOUS, assert_api_access, assert_page_access

from .conftest import make_library

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
NITRO = "[N+](=O)[O-]"


def nci_head(lines: int) -> bytes:
    return b"".join(NCI.read_bytes().splitlines(keepends=True)[:lines])


@pytest.fixture
def nci(world):
    """The first 1,200 NCI compounds in shards of 250: pages and searches cross shard boundaries."""
    return make_library(world, nci_head(1200), "nci.smi", shard_rows=250)


def stored(library: Library) -> list[dict]:
    """Every compound as the shards hold it (read independently of the code under test)."""
    rows = []
    for index, path in library.shards.order_by("index").values_list("index", "path"):
        with default_storage.open(path, "rb") as handle:
            for row in pq.read_table(io.BytesIO(handle.read())).to_pylist():
                rows.append({**row, "shard": index})
    return rows


def pages(api, url: str, **params) -> list[dict]:
    answers = []
    while True:
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        answers.append(response.json())
        if answers[-1]["next"] is None:
            return answers
        params["after"] = answers[-1]["next"]
        assert len(answers) < 500, "pagination does not end"


def test_pages_walk_every_compound_once_in_library_order(world, nci):
    shards = stored(nci)
    assert nci.shards.count() == 5
    answers = pages(world.api("amy"), f"/api/libraries/{nci.pk}/compounds/", page_size=100)
    results = [item for answer in answers for item in answer["results"]]
    assert [r["row"] for r in results] == [s["row"] for s in shards] == list(range(nci.compounds))
    assert [(r["shard"], r["smiles"], r["inchikey"], r["name"], r["record"]) for r in results] == [
        (s["shard"], s["smiles"], s["inchikey"], s["name"], s["record"]) for s in shards
    ]
    assert len(answers) == -(-nci.compounds // 100)
    assert answers[0]["next"] == f"{results[99]['shard']}:{results[99]['row']}"
    assert answers[0]["next_url"] == f"http://testserver/api/libraries/{nci.pk}/compounds/?page_size=100&after=0%3A99"
    first = results[0]
    mol = Chem.MolFromSmiles(first["smiles"])
    assert first["descriptors"]["mw"] == round(Descriptors.MolWt(mol), 2)
    assert first["descriptors"]["hbd"] == Lipinski.NumHDonors(mol)
    assert "image" not in first
    depicted = world.api("amy").get(f"/api/libraries/{nci.pk}/compounds/", {"page_size": 2, "depict": "true"}).json()
    assert depicted["results"][0]["image"].startswith("data:image/svg+xml;base64,")


def test_substructure_search_is_bounded_per_request_and_goes_on_where_it_stopped(world, nci, settings):
    settings.LIBRARY_SEARCH_SCAN_ROWS = 200
    with Chem.rdBase.BlockLogs():
        pattern = Chem.MolFromSmarts(NITRO)
        expected = [s["row"] for s in stored(nci) if Chem.MolFromSmiles(s["smiles"]).HasSubstructMatch(pattern)]
    assert len(expected) > 40
    answers = pages(world.api("amy"), f"/api/libraries/{nci.pk}/compounds/", substructure=NITRO, page_size=15)
    found = [item["row"] for answer in answers for item in answer["results"]]
    assert found == expected
    assert all(answer["scanned"] <= 200 for answer in answers)
    # Every compound is tested exactly once over the whole search.
    assert sum(answer["scanned"] for answer in answers) == nci.compounds
    assert any(len(a["results"]) < 15 and a["next"] for a in answers), "no request stopped at the scan bound"
    assert any(len(a["results"]) == 15 for a in answers), "no request stopped at a full page"
    assert answers[-1]["last_read"] == f"4:{nci.compounds - 1}"
    assert all(answer["substructure"] == NITRO for answer in answers)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"substructure": "c1ccc"}, "substructure", "'c1ccc' is not valid SMARTS: unclosed ring"),
        (
            {"substructure": "[C"},
            "substructure",
            "'[C' is not valid SMARTS: syntax error; check for mistakes around position 2",
        ),
        ({"substructure": "C" * 1001}, "substructure", "the SMARTS is 1,001 characters; at most 1,000"),
        ({"after": "page-2"}, "after", "'page-2' is not a position: use the `next` value of the previous page"),
        ({"after": "9:0"}, "after", "the library has no shard 9 (it has 3)"),
        ({"page_size": "0"}, "page_size", "must be between 1 and 100"),
        ({"page_size": "many"}, "page_size", "'many' is not a whole number."),
    ],
)
def test_bad_queries_are_refused_naming_the_parameter(world, params, field, message):
    small = make_library(world, b"CCO a\nCCN b\nCCC c\n", "small.smi", shard_rows=1)
    response = world.api("amy").get(f"/api/libraries/{small.pk}/compounds/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {field: [message]}, error


def test_other_teams_get_404_from_the_page_and_the_api(world, nci):
    for url in (f"/api/libraries/{nci.pk}/compounds/", f"/api/libraries/{nci.pk}/stats/"):
        assert_api_access(world, method="get", url=url, expect={ANONYMOUS: 401, "bob": 404})
    assert_page_access(world, url=f"/libraries/{nci.pk}/?substructure=c1ccccc1", expect={ANONYMOUS: 302, "bob": 404})


def test_a_library_not_ready_cannot_be_browsed_yet(world):
    library = Library.objects.create(team=world.alpha, name="pending", filename="x.smi", upload_path="x")
    for what in ("compounds", "stats"):
        response = world.api("amy").get(f"/api/libraries/{library.pk}/{what}/")
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["status"][0].startswith("The library is queued;")
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    assert 'data-testid="compounds"' not in page


def test_the_page_shows_compounds_with_structures_and_a_next_link(world, nci):
    page = world.browser("amy").get(f"/libraries/{nci.pk}/").content.decode()
    assert page.count("<tr data-row=") == 25
    assert page.count('src="data:image/svg+xml;base64,') == 25
    assert "Compounds 1 to 25 of 1," in page
    assert 'href="?after=0%3A24#compounds"' in page
    second = world.browser("amy").get(f"/libraries/{nci.pk}/", {"after": "0:24"}).content.decode()
    assert '<tr data-row="25">' in second
    assert "Compounds 26 to 50 of" in second
    search = world.browser("amy").get(f"/libraries/{nci.pk}/", {"substructure": NITRO}).content.decode()
    assert "match" in search
    assert "for [N+](=O)[O-]" in search
    bad = world.browser("amy").get(f"/libraries/{nci.pk}/", {"substructure": "c1ccc"}).content.decode()
    assert "substructure: &#x27;c1ccc&#x27; is not valid SMARTS: unclosed ring" in bad
    assert 'role="alert"' in bad


def compute_stats(library: Library) -> dict:
    """The statistics, computed the way the workers do (each shard's task, then the merge), in-process."""
    for index in library.shards.values_list("index", flat=True):
        assert library_stats.compute_shard_part(library.pk, index) == "done"
    assert library_stats.merge_parts(library.pk) == "ready"
    return world_stats(library)


def world_stats(library: Library) -> dict:
    with default_storage.open(library_stats.summary_key(library), "rb") as handle:
        return json.loads(handle.read())


def by_key(stats: dict) -> dict:
    return {item["key"]: item for item in stats["distributions"]}


def assert_counts_add_up(item: dict, compounds: int) -> None:
    assert item["count"] + item.get("non_numeric", 0) + item["missing"] == compounds, item
    histogram = item["histogram"]
    assert sum(histogram["counts"]) + histogram["below"] + histogram["above"] == item["count"], item
    assert len(histogram["edges"]) == len(histogram["counts"]) + 1


def test_distributions_of_descriptors_are_exact_where_they_can_be(world, nci):
    stats = compute_stats(nci)
    assert stats["status"] == "ready"
    assert stats["compounds"] == nci.compounds
    items = by_key(stats)
    assert list(items) == ["mw", "clogp", "hbd", "hba", "tpsa", "rotb", "heavy_atoms"]
    mols = [Chem.MolFromSmiles(s["smiles"]) for s in stored(nci)]
    weights = np.array([Descriptors.MolWt(m) for m in mols])
    assert items["mw"]["mean"] == pytest.approx(weights.mean(), rel=1e-9)
    assert (items["mw"]["min"], items["mw"]["max"]) == pytest.approx((weights.min(), weights.max()))
    assert items["mw"]["p50"] == pytest.approx(np.median(weights), rel=0.01)
    assert (items["mw"]["unit"], items["mw"]["label"]) == ("Da", "Molecular weight")
    donors = Counter(Lipinski.NumHDonors(m) for m in mols)
    hbd = items["hbd"]["histogram"]
    assert hbd["exact"]
    assert hbd["below"] == hbd["above"] == 0
    assert dict(zip(hbd["edges"], hbd["counts"], strict=False)) == {
        float(k): donors.get(k, 0) for k in range(int(hbd["edges"][0]), int(hbd["edges"][-1]))
    }
    for item in items.values():
        assert_counts_add_up(item, nci.compounds)
    assert not items["mw"]["histogram"]["exact"]


def test_numeric_property_columns_are_summarised_and_text_ones_listed(world):
    lines = ["smiles,id,pIC50,assay,note"]
    with Chem.rdBase.BlockLogs():
        smiles = [line.split()[0] for line in nci_head(400).decode().splitlines()]
        smiles = [s for s in smiles if Chem.MolFromSmiles(s) is not None][:300]
    for i, s in enumerate(smiles):
        value = "n/a" if i % 50 == 0 else ("" if i % 60 == 1 else f"{5 + (i % 40) / 10:.1f}")
        lines.append(f'"{s}",c{i},{value},{i % 3},note {i}')
    library = make_library(world, "\n".join(lines).encode(), "props.csv", shard_rows=100)
    stats = compute_stats(library)
    items = by_key(stats)
    pic50 = items["property:pIC50"]
    assert (pic50["source"], pic50["label"]) == ("property", "pIC50")
    assert pic50["non_numeric"] == 6
    assert pic50["missing"] == 5
    assert_counts_add_up(pic50, library.compounds)
    assert (pic50["min"], pic50["max"]) == (5.0, 8.9)
    assay = items["property:assay"]["histogram"]
    assert assay["exact"]
    assert assay["counts"] == [100, 100, 100]
    assert [c["name"] for c in stats["text_columns"]] == ["note"]
    assert stats["text_columns"][0] == {"name": "note", "numeric": 0, "non_numeric": 300, "missing": 0}


def test_the_stats_api_answers_202_until_they_are_computed_then_the_summary(
    world, nci, monkeypatch, django_capture_on_commit_callbacks
):
    # What is queued is recorded instead of sent (the real worker runs it in the test below).
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **options: sent.append((name, tuple(args))))
    cache.delete(library_stats.queued_key(nci))
    api = world.api("amy")
    with django_capture_on_commit_callbacks(execute=True):
        pending = api.get(f"/api/libraries/{nci.pk}/stats/")
    assert pending.status_code == 202
    assert pending.json() == {"status": "computing", "shards_done": 0, "shards": 5}
    assert sent == [(library_stats.SHARD_TASK, (nci.pk, i)) for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        api.get(f"/api/libraries/{nci.pk}/stats/")
    assert len(sent) == 5  # queued once, not at every question
    library_stats.compute_shard_part(nci.pk, 0)
    assert api.get(f"/api/libraries/{nci.pk}/stats/").json()["shards_done"] == 1
    compute_stats(nci)
    ready = api.get(f"/api/libraries/{nci.pk}/stats/")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert "fingerprint" not in body
    assert [item["key"] for item in body["distributions"]][:3] == ["mw", "clogp", "hbd"]


def test_a_summary_of_other_shards_is_not_shown(world, nci):
    compute_stats(nci)
    shard = nci.shards.get(index=4)
    shard.compounds -= 1  # as if the library had been ingested again
    shard.save()
    assert library_stats.library_stats(nci)["status"] == "computing"
    assert library_stats.merge_parts(nci.pk).startswith("waiting")


def test_the_page_draws_a_histogram_per_distribution_with_labelled_axes(world, nci):
    computing = world.browser("amy").get(f"/libraries/{nci.pk}/").content.decode()
    assert 'data-stats-status="computing"' in computing
    compute_stats(nci)
    page = world.browser("amy").get(f"/libraries/{nci.pk}/").content.decode()
    assert 'data-stats-status="ready"' in page
    assert page.count('data-testid="histogram"') == 7
    assert ">Molecular weight (Da)</text>" in page
    assert page.count(">Compounds</text>") == 7
    assert "<script>" not in page.split("</main>")[0]  # no inline scripts


def test_a_long_tail_is_cut_off_and_counted():
    values = np.concatenate([np.random.default_rng(2).normal(350, 60, 5000), [4000.0, 5200.0, 6100.0]])
    distribution = Distribution()
    distribution.add(values)
    histogram = distribution.summary()["histogram"]
    assert histogram["edges"][-1] < 1000
    assert histogram["above"] >= 3
    assert sum(histogram["counts"]) + histogram["below"] + histogram["above"] == 5003
    widths = np.diff(histogram["edges"])
    assert np.allclose(widths, widths[0])
    assert widths[0] in (5, 10, 20, 25, 50)


def test_distribution_merge_equals_one_pass():
    rng = np.random.default_rng(1)
    values = rng.lognormal(5, 0.4, 4000)
    whole, halves = Distribution(), Distribution()
    whole.add(values)
    first, second = Distribution(), Distribution()
    first.add(values[:1500])
    second.add(values[1500:])
    halves.merge(Distribution.from_dict(json.loads(json.dumps(first.to_dict()))))
    halves.merge(second)
    merged, single = halves.summary(), whole.summary()
    assert merged["histogram"] == single["histogram"]
    assert {k: v for k, v in merged.items() if k != "histogram"} == pytest.approx(
        {k: v for k, v in single.items() if k != "histogram"}
    )
    counts = Distribution()
    counts.add(np.arange(2000) % 7)
    assert counts.summary()["histogram"]["counts"] == [286, 286, 286, 286, 286, 285, 285]


@pytest.mark.worker
@pytest.mark.slow
def test_the_worker_computes_the_distributions_when_the_ingest_ends(celery_worker_process, transactional_db, world):
    library = make_library(world, NCI.read_bytes(), "first_5K.smi", by_worker=True, shard_rows=2000)
    deadline = time.monotonic() + 120
    # Nobody asks: the ingest's finishing step queued the work.
    while not default_storage.exists(library_stats.summary_key(library)):
        assert time.monotonic() < deadline, "the distributions were not computed"
        time.sleep(0.3)
    body = world.api("amy").get(f"/api/libraries/{library.pk}/stats/").json()
    assert body["status"] == "ready"
    assert body["compounds"] == library.compounds
    for item in body["distributions"]:
        assert_counts_add_up(item, library.compounds)
    # Lost work is queued again when the statistics are next asked for.
    for index in range(library.shards.count()):
        default_storage.delete(library_stats.part_key(library, index))
    default_storage.delete(library_stats.summary_key(library))
    cache.delete(library_stats.queued_key(library))
    assert world.api("amy").get(f"/api/libraries/{library.pk}/stats/").status_code == 202
    while (response := world.api("amy").get(f"/api/libraries/{library.pk}/stats/")).status_code == 202:
        assert time.monotonic() < deadline + 60, response.json()
        time.sleep(0.3)
    assert response.json()["distributions"] == body["distributions"]


def test_browsing_is_in_the_api_schema(world):
    schema = world.api("amy").get("/api/schema/", {"format": "json"}).json()
    compounds = schema["paths"]["/api/libraries/{id}/compounds/"]["get"]
    assert {p["name"] for p in compounds["parameters"]} >= {"id", "substructure", "after", "page_size", "depict"}
    assert "SMARTS" in compounds["description"]
    stats = schema["paths"]["/api/libraries/{id}/stats/"]["get"]
    assert {"200", "202", "400"} <= set(stats["responses"])


def test_a_library_without_compounds_browses_and_summarises_to_nothing(world):
    library = make_library(world, b"C1CC( broken\nnot-a-smiles other\n", "empty.smi")
    assert library.compounds == 0
    answer = world.api("amy").get(f"/api/libraries/{library.pk}/compounds/", {"substructure": "c1ccccc1"}).json()
    assert (answer["results"], answer["next"], answer["scanned"]) == ([], None, 0)
    assert library_stats.merge_parts(library.pk) == "ready"
    stats = world.api("amy").get(f"/api/libraries/{library.pk}/stats/").json()
    assert stats["compounds"] == 0
    assert all(item["count"] == 0 and item["histogram"] is None for item in stats["distributions"])
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    assert page.count("The library holds no compounds.") == 2


def test_columns_beyond_the_limit_are_named_not_summarised(world, settings, monkeypatch):
    monkeypatch.setattr(library_stats, "MAX_COLUMNS", 2)
    content = b"smiles,id,a,b,c,d\nCCO,e1,1,2,3,4\nCCN,e2,5,6,7,8\n"
    library = make_library(world, content, "wide.csv", shard_rows=100)
    stats = compute_stats(library)
    assert [item["key"] for item in stats["distributions"] if item["source"] == "property"] == [
        "property:a",
        "property:b",
    ]
    assert stats["columns_not_summarised"] == ["c", "d"]
