"""The portal's sections, in navigation order. Each app registers its page here when it lands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    url_name: str
    summary: str


SECTIONS: tuple[Section, ...] = (
    Section("libraries", "Libraries", "libraries", "Upload compound libraries; see them validated and standardised."),
    Section("campaigns", "Campaigns", "campaigns", "Screen libraries with models; sort, filter and download hits."),
    Section(
        "experiments", "Experiments", "experiments", "Hyper-parameter optimisation: trials, progress, best models."
    ),
    Section("models", "Models", "models", "The model registry: versions, lineage, aliases and deployments."),
    Section("dashboards", "Dashboards", "dashboards", "Model performance, HPO progress and screening results."),
)
