"""Compound filters for campaigns: structural alerts (PAINS, Brenk), property ranges, Lipinski and a
SMARTS substructure. A compound that fails a filter is not scored; its reason is kept and counted.

Filters are given as a dict (stored with the campaign) and validated into a `FilterSpec`, whose
errors name the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, Lipinski, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from chemcore.rdkit_logs import quiet

ALERT_CATALOGS = {"pains": FilterCatalogParams.FilterCatalogs.PAINS, "brenk": FilterCatalogParams.FilterCatalogs.BRENK}

PROPERTIES: dict[str, tuple[str, Callable[[Chem.Mol], float]]] = {
    "mw": ("molecular weight", Descriptors.MolWt),
    "clogp": ("cLogP", Crippen.MolLogP),
    "hbd": ("H-bond donors", Lipinski.NumHDonors),
    "hba": ("H-bond acceptors", Lipinski.NumHAcceptors),
    "tpsa": ("TPSA", rdMolDescriptors.CalcTPSA),
    "rotb": ("rotatable bonds", rdMolDescriptors.CalcNumRotatableBonds),
    "heavy_atoms": ("heavy atoms", lambda mol: mol.GetNumHeavyAtoms()),
}
# How a property is written in a filter's description: "MW ≤ 500".
SHORT_NAMES = {"mw": "MW", "clogp": "cLogP", "hbd": "HBD", "hba": "HBA", "tpsa": "TPSA"}
# Lipinski's rule of five: at most one of these limits exceeded.
LIPINSKI_LIMITS = {"mw": 500.0, "clogp": 5.0, "hbd": 5.0, "hba": 10.0}


class FilterSpecError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class FilterSpec:
    exclude_alerts: tuple[str, ...] = ()
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    lipinski: bool = False
    substructure: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FilterSpec:
        data = dict(data or {})
        unknown = set(data) - {"exclude_alerts", "properties", "lipinski", "substructure"}
        if unknown:
            known = "exclude_alerts, properties, lipinski, substructure"
            raise FilterSpecError(sorted(unknown)[0], f"unknown filter (known: {known})")
        alerts = data.get("exclude_alerts") or []
        if not isinstance(alerts, list) or any(a not in ALERT_CATALOGS for a in alerts):
            raise FilterSpecError("exclude_alerts", f"a list drawn from {sorted(ALERT_CATALOGS)}")
        ranges: dict[str, tuple[float | None, float | None]] = {}
        properties = data.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise FilterSpecError("properties", 'an object such as {"mw": {"max": 500}}')
        for name, bounds in properties.items():
            where = f"properties.{name}"
            if name not in PROPERTIES:
                raise FilterSpecError(where, f"unknown property (known: {', '.join(PROPERTIES)})")
            if not isinstance(bounds, Mapping) or not set(bounds) <= {"min", "max"}:
                raise FilterSpecError(where, "an object with min and/or max")
            low, high = bounds.get("min"), bounds.get("max")
            for key, value in (("min", low), ("max", high)):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise FilterSpecError(f"{where}.{key}", "must be a number")
            if low is not None and high is not None and low > high:
                raise FilterSpecError(where, f"min {low} is greater than max {high}")
            if low is not None or high is not None:
                ranges[name] = (low, high)
        lipinski = data.get("lipinski", False)
        if not isinstance(lipinski, bool):
            raise FilterSpecError("lipinski", "must be true or false")
        substructure = data.get("substructure") or ""
        if not isinstance(substructure, str):
            raise FilterSpecError("substructure", "must be a SMARTS string")
        if substructure and _smarts(substructure) is None:
            raise FilterSpecError("substructure", f"{substructure!r} is not valid SMARTS")
        return cls(tuple(dict.fromkeys(alerts)), ranges, lipinski, substructure.strip())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.exclude_alerts:
            out["exclude_alerts"] = list(self.exclude_alerts)
        if self.ranges:
            out["properties"] = {
                name: {k: v for k, v in (("min", low), ("max", high)) if v is not None}
                for name, (low, high) in self.ranges.items()
            }
        if self.lipinski:
            out["lipinski"] = True
        if self.substructure:
            out["substructure"] = self.substructure
        return out

    def describe(self) -> list[str]:
        """The filters as short phrases people read: ["PAINS excluded", "MW ≤ 500", "contains c1ccncc1"]."""
        phrases = [f"{'PAINS' if name == 'pains' else name.capitalize()} excluded" for name in self.exclude_alerts]
        for name, (low, high) in self.ranges.items():
            label = SHORT_NAMES.get(name, PROPERTIES[name][0])
            if low is not None and high is not None:
                phrases.append(f"{low:g} ≤ {label} ≤ {high:g}")
            elif low is not None:
                phrases.append(f"{label} ≥ {low:g}")
            else:
                phrases.append(f"{label} ≤ {high:g}")
        if self.lipinski:
            phrases.append("Lipinski's rule of five")
        if self.substructure:
            phrases.append(f"contains {self.substructure}")
        return phrases

    @property
    def active(self) -> bool:
        return bool(self.exclude_alerts or self.ranges or self.lipinski or self.substructure)


@functools.lru_cache(maxsize=64)
def _smarts(text: str) -> Chem.Mol | None:
    with quiet():
        return Chem.MolFromSmarts(text)


@functools.lru_cache(maxsize=4)
def _catalog(name: str) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(ALERT_CATALOGS[name])
    return FilterCatalog(params)


class CompoundFilter:
    """Applies a `FilterSpec` to molecules; `reason(mol)` is None when the compound passes."""

    def __init__(self, spec: FilterSpec) -> None:
        self.spec = spec
        self._catalogs = [(name, _catalog(name)) for name in spec.exclude_alerts]
        self._pattern = _smarts(spec.substructure) if spec.substructure else None

    def reason(self, mol: Chem.Mol) -> str | None:
        spec = self.spec
        values: dict[str, float] = {}

        def value(name: str) -> float:
            if name not in values:
                values[name] = float(PROPERTIES[name][1](mol))
            return values[name]

        for name, (low, high) in spec.ranges.items():
            if low is not None and value(name) < low:
                return f"{PROPERTIES[name][0]} {value(name):.4g} < {low:g}"
            if high is not None and value(name) > high:
                return f"{PROPERTIES[name][0]} {value(name):.4g} > {high:g}"
        if spec.lipinski:
            violations = [name for name, limit in LIPINSKI_LIMITS.items() if value(name) > limit]
            if len(violations) > 1:
                return "Lipinski: " + ", ".join(PROPERTIES[name][0] for name in violations) + " above the limit"
        if self._pattern is not None and not mol.HasSubstructMatch(self._pattern):
            return "no substructure match"
        for name, catalog in self._catalogs:
            entry = catalog.GetFirstMatch(mol)
            if entry is not None:
                return f"{name.upper()} alert: {entry.GetDescription()}"
        return None


def alerts_of(mol: Chem.Mol) -> dict[str, list[str]]:
    """Every PAINS and Brenk alert a molecule matches, by catalogue (for flagging hits)."""
    return {name: sorted({m.GetDescription() for m in _catalog(name).GetMatches(mol)}) for name in ALERT_CATALOGS}


def properties_of(mol: Chem.Mol) -> dict[str, float]:
    """The filterable properties, rounded for display."""
    return {name: round(float(function(mol)), 2) for name, (_, function) in PROPERTIES.items()}
