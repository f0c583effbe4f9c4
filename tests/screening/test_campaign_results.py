"""A finished campaign as people read it: downloads that follow the hits table's sorting and
filters, with rounded scores, properties as columns, and CSV cells a spreadsheet would run as
formulas made inert; pages that speak in sentences, not Python reprs; the hits before the filter
breakdown; a histogram with axes."""

import csv
import io
import re

import pyarrow.parquet as pq
import pytest
from rdkit import Chem

from screening.campaigns import display
from screening.campaigns.filters import PROPERTIES
from screening.campaigns.services import ModelChoice

from .conftest import make_library
from .test_campaigns import library, run_all, start  # noqa: F401 (fixture)


@pytest.fixture
def screened(world, library, alpha_version):  # noqa: F811
    campaign = start(
        world, library, top_k=60, models=[ModelChoice("solubility")],
        filters={"exclude_alerts": ["pains"], "properties": {"mw": {"max": 450}}},
    )  # fmt: skip
    run_all(campaign)
    return campaign


def download(world, campaign, **params) -> tuple[int, bytes]:
    response = world.api("amy").get(f"/api/campaigns/{campaign.pk}/download/", params)
    body = b"".join(response.streaming_content) if response.status_code == 200 else response.content
    return response.status_code, body


def downloaded(world, campaign, **params) -> bytes:
    status, body = download(world, campaign, **params)
    assert status == 200, body
    return body


def significant_digits(text: str) -> int:
    digits = re.sub(r"e.*$", "", text.lstrip("-")).replace(".", "").lstrip("0")
    return len(digits.rstrip("0")) if "." in text else len(digits)


def test_hit_downloads_follow_the_hits_query(world, screened):
    api = world.api("amy")
    url = f"/api/campaigns/{screened.pk}/hits/"
    scores = sorted(h["score"] for h in api.get(url, {"page_size": 100}).json()["results"])
    query = {"order": "score_0", "min_score": scores[20], "alerts": "none"}
    expected = api.get(url, {**query, "page_size": 100}).json()["results"]
    assert 0 < len(expected) < 40

    status, body = download(world, screened, set="hits", file_format="csv", **query)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [int(r["rank"]) for r in rows] == [h["rank"] for h in expected]  # same rows, same order
    body = downloaded(world, screened, set="hits", file_format="parquet", **query)
    assert pq.read_table(io.BytesIO(body)).column("rank").to_pylist() == [h["rank"] for h in expected]
    body = downloaded(world, screened, set="hits", file_format="sdf", substructure="c1ccccc1")
    molecules = list(Chem.ForwardSDMolSupplier(io.BytesIO(body)))
    pattern = Chem.MolFromSmarts("c1ccccc1")
    assert molecules
    assert all(m.HasSubstructMatch(pattern) for m in molecules)

    # The page's download links carry the table's query.
    page = world.browser("amy").get(f"/campaigns/{screened.pk}/", query).content.decode()
    link = re.search(r'href="([^"]+)" data-testid="hits-csv"', page).group(1).replace("&amp;", "&")
    assert "order=score_0" in link
    assert "alerts=none" in link
    assert "min_score=" in link

    status, body = download(world, screened, set="hits", substructure="[[[")
    assert status == 400
    assert "substructure" in body.decode()
    status, body = download(world, screened, set="all", min_score=1)  # every compound: no hit filters
    assert status == 400
    assert "min_score" in body.decode()
    assert "set=hits only" in body.decode()


def test_downloads_round_scores_and_give_each_property_a_column(world, screened, library):  # noqa: F811
    body = downloaded(world, screened, set="hits", file_format="csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert "properties" not in rows[0]
    assert set(PROPERTIES) <= set(rows[0])
    hit = screened.hits.get(rank=1)
    assert float(rows[0]["mw"]) == hit.properties["mw"]
    assert float(rows[0]["tpsa"]) == hit.properties["tpsa"]
    assert all(significant_digits(r["solubility v1 score"]) <= 4 for r in rows)
    assert float(rows[0]["solubility v1 score"]) == pytest.approx(hit.score, rel=1e-3)

    body = downloaded(world, screened, set="hits", file_format="parquet")
    table = pq.read_table(io.BytesIO(body))
    assert table.column("solubility v1 score").to_pylist()[0] == hit.score  # raw values kept
    assert table.column("mw").to_pylist()[0] == hit.properties["mw"]

    body = downloaded(world, screened, set="hits", file_format="sdf")
    first = next(iter(Chem.ForwardSDMolSupplier(io.BytesIO(body))))
    assert float(first.GetProp("clogp")) == hit.properties["clogp"]
    assert significant_digits(first.GetProp("solubility v1 score")) <= 4

    body = downloaded(world, screened, set="all", file_format="csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == library.compounds
    scored = [r for r in rows if r["status"] == "scored"]
    assert all(significant_digits(r["solubility v1 score"]) <= 4 for r in scored)
    assert all(r["solubility v1 score"] == "" for r in rows if r["status"] != "scored")  # not "nan"


FORMULAS = ['=HYPERLINK("http://example.com/x","click")', "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)"]


def test_csv_downloads_neutralise_cells_a_spreadsheet_would_run(world, alpha_version):
    quoted = [name.replace('"', '""') for name in FORMULAS]
    lines = ["smiles,name"] + [f'c1ccccc1{"C" * i}O,"{name}"' for i, name in enumerate(quoted)]
    formulas = make_library(world, "\n".join(lines).encode(), "formulas.csv")
    campaign = start(world, formulas, top_k=10)
    run_all(campaign)
    for which in ("all", "hits"):
        status, body = download(world, campaign, set=which, file_format="csv")
        assert status == 200
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        names = {r["name"] for r in rows}
        assert names == {f"'{name}" for name in FORMULAS}, which
        scores = [r["solubility v1 score"] for r in rows]
        assert any(s.startswith("-") for s in scores)  # negative numbers stay numbers
        assert all(float(s) < 0 for s in scores if s.startswith("-"))
    body = downloaded(world, campaign, set="all", file_format="parquet")
    assert set(pq.read_table(io.BytesIO(body)).column("name").to_pylist()) == set(FORMULAS)  # kept as they are


def test_pages_show_messages_and_filters_as_people_read_them(world, screened):
    browser = world.browser("amy")
    page = browser.get(f"/campaigns/{screened.pk}/", {"min_score": "abc"}).content.decode()
    assert "Min score: &#x27;abc&#x27; is not a number." in page
    assert "ErrorDetail" not in page
    page = browser.get(f"/campaigns/{screened.pk}/", {"substructure": "[[["}).content.decode()
    assert "Substructure: &#x27;[[[&#x27; is not valid SMARTS." in page
    assert "Filters: PAINS excluded · MW ≤ 450" in page
    assert "{&#x27;exclude_alerts" not in page
    response = browser.get(f"/campaigns/{screened.pk}/download/", {"set": "everything"})
    assert response.status_code == 400
    assert response.content.decode() == "Cannot download: Set: One of all, scored, hits."


def test_results_page_puts_the_hits_first_and_the_breakdown_folded_by_count(world, screened):
    page = world.browser("amy").get(f"/campaigns/{screened.pk}/").content.decode()
    assert page.index('id="hits"') < page.index('data-testid="model-summary"') < page.index("filtered-reasons")
    details = re.search(r'<details class="reasons" data-testid="filtered-reasons">(.*?)</details>', page, re.S)
    assert details is not None  # folded: no `open`
    counts = [int(n) for n in re.findall(r"<tr><td>[^<]*</td><td>(\d+)</td></tr>", details.group(1))]
    assert len(counts) == len(screened.filter_reasons["filtered"]) > 1
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == screened.filtered
    histogram = re.search(r'<svg[^>]*data-testid="histogram".*?</svg>', page, re.S).group(0)
    assert re.findall(r'class="axis-label">([^<]+)<', histogram) == ["score", "compounds"]
    assert len(re.findall(r'data-axis="x"', histogram)) == 5
    assert re.findall(r'data-axis="y">([^<]+)<', histogram)[0] == "0"


def test_histogram_axes_span_the_scores_and_counts():
    figure = display.histogram_figure({"edges": [-4.0, -3.0, -2.0, -1.0], "counts": [5, 1200, 30]})
    assert [tick["label"] for tick in figure["x_ticks"]] == ["-4", "-3.25", "-2.5", "-1.75", "-1"]
    assert [tick["label"] for tick in figure["y_ticks"]] == ["0", "600", "1,200"]
    tallest = max(figure["bars"], key=lambda bar: bar["height"])
    assert tallest["y"] == figure["top"]
    assert tallest["y"] + tallest["height"] == figure["bottom"]
    assert display.histogram_figure({"edges": [], "counts": []}) is None
