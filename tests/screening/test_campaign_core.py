"""The Django-free parts of a campaign: the mergeable score sketch, filters, and scoring one shard."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rdkit import Chem

from chemcore.package import unpack
from chemcore.predictor import Predictor
from chemcore.rdkit_logs import quiet
from screening.campaigns.filters import FilterSpec, FilterSpecError
from screening.campaigns.scoring import ScoringModel, score_shard
from screening.campaigns.sketch import RELATIVE_ACCURACY, Sketch


def test_sketch_quantiles_are_within_the_relative_accuracy_and_merge_exactly():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(-3, 2, 50_000), rng.lognormal(0, 1, 50_000), np.zeros(10)])
    whole = Sketch()
    whole.add(values)
    parts = [Sketch() for _ in range(7)]
    for part, chunk in zip(parts, np.array_split(rng.permutation(values), 7), strict=True):
        part.add(chunk)
    merged = Sketch.from_dict(parts[0].to_dict())
    for part in parts[1:]:
        merged.merge(Sketch.from_dict(part.to_dict()))
    merged_dict, whole_dict = merged.to_dict(), whole.to_dict()
    for key in ("count", "min", "max", "zeros", "pos", "neg"):
        assert merged_dict[key] == whole_dict[key], key
    assert merged_dict["sum"] == pytest.approx(whole_dict["sum"])
    assert merged.count == values.size
    assert merged.summary()["mean"] == pytest.approx(values.mean())
    assert merged.summary()["std"] == pytest.approx(values.std(), rel=1e-6)
    assert merged.min == values.min()
    assert merged.max == values.max()
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        exact = np.quantile(values, q)
        assert abs(merged.quantile(q) - exact) <= 2 * RELATIVE_ACCURACY * abs(exact) + 1e-6
    histogram = merged.summary()["histogram"]
    assert sum(histogram["counts"]) == values.size
    assert histogram["edges"][0] == pytest.approx(values.min())
    assert histogram["edges"][-1] == pytest.approx(values.max())


def test_sketch_ignores_nan_and_handles_nothing():
    sketch = Sketch()
    sketch.add(np.array([np.nan, np.inf]))
    assert sketch.summary() == {"count": 0}
    assert sketch.quantile(0.5) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"exclude_alerts": ["pains", "nonsense"]}, "exclude_alerts"),
        ({"properties": {"weight": {"max": 3}}}, "properties.weight"),
        ({"properties": {"mw": {"min": 500, "max": 200}}}, "properties.mw"),
        ({"properties": {"mw": {"max": "heavy"}}}, "properties.mw.max"),
        ({"substructure": "c1ccc("}, "substructure"),
        ({"lipinski": "yes"}, "lipinski"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_filters_name_the_field(spec, field):
    with pytest.raises(FilterSpecError) as caught:
        FilterSpec.from_dict(spec)
    assert caught.value.field == field


def _shard(tmp_path, smiles: list[str]):
    path = tmp_path / "shard.parquet"
    n = len(smiles)
    pq.write_table(
        pa.table(
            {
                "row": pa.array(range(n), pa.int64()),
                "name": [f"c{i}" for i in range(n)],
                "smiles": smiles,
                "inchikey": ["X" * 27] * n,
            }
        ),
        path,
    )
    return path


@pytest.fixture(scope="module")
def predictor(regression_archive, tmp_path_factory):
    directory = tmp_path_factory.mktemp("unpacked") / "package"
    unpack(regression_archive, directory)
    return Predictor.load(directory)


def test_score_shard_keeps_every_compound_and_the_true_top_k(tmp_path, predictor, solubility_smiles):
    smiles = [s for s, _ in solubility_smiles[:500]] + ["not a smiles", "C1=CC=CC=C1C(=O)Oc1ccccc1"]
    spec = FilterSpec.from_dict({"exclude_alerts": ["pains"], "properties": {"mw": {"max": 300}}})
    seen = []
    outcome = score_shard(
        _shard(tmp_path, smiles), [ScoringModel(predictor), ScoringModel(predictor, maximise=False)],
        filters=spec, top_k=25, result_path=tmp_path / "r.parquet", top_path=tmp_path / "t.parquet",
        batch_rows=128, on_progress=seen.append,
    )  # fmt: skip
    assert seen == [128, 256, 384, 502]
    assert outcome.compounds == len(smiles) == outcome.scored + outcome.filtered + outcome.failed
    with quiet():
        unparsable = sum(Chem.MolFromSmiles(s) is None for s in smiles)
    assert outcome.failed == unparsable >= 1
    assert outcome.filtered > 0
    assert sum(outcome.filter_reasons.values()) == outcome.filtered
    assert "molecular weight > 300" in outcome.filter_reasons
    result = pq.read_table(tmp_path / "r.parquet").to_pandas()
    assert list(result["row"]) == list(range(len(smiles)))
    assert (result["status"] == "scored").sum() == outcome.scored
    filtered = result[result["status"] == "filtered"]
    assert filtered["score_0"].isna().all()
    assert filtered["reason"].str.len().gt(0).all()
    assert result.loc[500, "status"] == "failed"
    assert "unparsable" in result.loc[500, "reason"]
    scored = result[result["status"] == "scored"]
    expected = predictor.predict_all(list(scored["smiles"]), assume_standardised=True).value
    assert np.allclose(scored["score_0"], expected)
    assert np.allclose(scored["score_1"], expected)
    top = pq.read_table(tmp_path / "t.parquet").to_pandas()
    best = scored.sort_values(["score_0", "row"], ascending=[False, True]).head(25)
    assert list(top["row"]) == list(best["row"])
    assert outcome.sketches[0].count == outcome.scored


def test_molecules_beyond_the_size_bound_fail_before_filters_and_models(tmp_path, predictor, solubility_smiles):
    """The models' heavy-atom bound decides before any filter or model: such a compound is failed with
    its size, counted under one reason, and the other rows are scored as without it."""
    small = [s for s, _ in solubility_smiles[:60]]
    chain = "OCC" * 666 + "OC"  # 2,000 heavy atoms
    smiles = [*small[:30], chain, *small[30:], "C" * 151, "C" * 150]
    spec = FilterSpec.from_dict({"exclude_alerts": ["pains"], "properties": {"mw": {"max": 5000}}})
    outcome = score_shard(
        _shard(tmp_path, smiles), [ScoringModel(predictor)], filters=spec, top_k=10,
        result_path=tmp_path / "r.parquet", top_path=tmp_path / "t.parquet", batch_rows=16,
    )  # fmt: skip
    assert outcome.compounds == len(smiles) == outcome.scored + outcome.filtered + outcome.failed
    assert outcome.failure_reasons["too large: > 150 heavy atoms"] == 2
    assert sum(outcome.failure_reasons.values()) == outcome.failed
    result = pq.read_table(tmp_path / "r.parquet").to_pandas()
    assert result.loc[30, ["status", "reason"]].tolist() == ["failed", "too large: 2000 heavy atoms (limit 150)"]
    assert result.loc[61, ["status", "reason"]].tolist() == ["failed", "too large: 151 heavy atoms (limit 150)"]
    assert result.loc[62, "status"] == "scored"  # at the bound
    assert np.isnan(result.loc[[30, 61], "score_0"]).all()
    without = score_shard(
        _shard(tmp_path, [*small, "C" * 150]), [ScoringModel(predictor)], filters=spec, top_k=10,
        result_path=tmp_path / "r2.parquet", top_path=tmp_path / "t2.parquet", batch_rows=16,
    )  # fmt: skip
    assert (without.scored, without.filtered) == (outcome.scored, outcome.filtered)
    kept = result[result["status"] == "scored"]["score_0"].to_numpy()
    again = pq.read_table(tmp_path / "r2.parquet").to_pandas()
    np.testing.assert_array_equal(kept, again[again["status"] == "scored"]["score_0"].to_numpy())
