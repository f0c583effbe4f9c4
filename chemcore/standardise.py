"""Standardise molecules with RDKit MolStandardize; output canonical SMILES and InChIKey.

Pipeline (each step optional, in this order): cleanup (RemoveHs, metal disconnection, functional
group normalisation, reionisation) → parent fragment (salts and solvents stripped) → neutralise
(Uncharger) → canonical tautomer (off by default: ~60 molecules/s). The options are a frozen
dataclass serialised with every stored result, so a library can be re-standardised identically.

Fast path: most library molecules need none of the steps (one fragment, no charges, only organic
elements, none of the groups the normaliser rewrites). For those the expensive calls are skipped;
the output is identical to the full pipeline (tested on NCI, ChEMBL drugs and solubility sets).
Standardising is ~5x the cost of scoring, so it runs once, at ingest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from .rdkit_logs import capture_errors, clean_messages, molblock_reason, quiet

STANDARDISER_VERSION = "1"
FRAGMENT_MODES = ("largest", "parent", "none")
STEP_NAMES = ("cleanup", "fragment", "neutralise", "tautomer")

_NO_PROPS = Chem.PropertyPickleOptions.NoProps
# Any charged atom: cleanup (reionise, charge normalisations) and neutralise may apply.
_CHARGED = Chem.MolFromSmarts("[!+0]")
# Anything but the common organic elements (metals, H atoms left after parsing, dummies, ...).
_NON_ORGANIC = Chem.MolFromSmarts("[!#5;!#6;!#7;!#8;!#9;!#14;!#15;!#16;!#17;!#34;!#35;!#53]")
# The normaliser's transforms that can match an uncharged molecule (nitro-like, N-oxide written
# n=O, azide, diazo, sulfoxide); its other transforms need charged atoms, caught by _CHARGED.
_NEUTRAL_NORMALISER_PATTERNS = tuple(
    Chem.MolFromSmarts(s)
    for s in (
        "[N,P,As,Sb;X3](=[O,S,Se,Te])=[O,S,Se,Te]",
        "[nH0+0]=[OH0+0]",
        "[N]=[N]#[N]",
        "[*]=[N]#[N]",
        "[!O][S+0;X3](=[O])[!O]",
    )
)


@dataclass(frozen=True)
class StandardiseOptions:
    """What the standardiser does; recorded with every result so it can be reproduced.

    fragment: "largest" (LargestFragmentChooser), "parent" (FragmentParent: known salts/solvents
    removed first, then the largest), or "none". `prefer_organic` makes the chooser keep an organic
    fragment over a larger inorganic one. `isomeric` keeps stereo and isotopes in the output SMILES.
    """

    cleanup: bool = True
    fragment: str = "largest"
    prefer_organic: bool = True
    neutralise: bool = True
    canonical_tautomer: bool = False
    isomeric: bool = True
    version: str = STANDARDISER_VERSION

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"standardise option {f.name!r} must be true or false, not {value!r}")
        if self.fragment not in FRAGMENT_MODES:
            raise ValueError(f"standardise option 'fragment' must be one of {FRAGMENT_MODES}, not {self.fragment!r}")
        if self.version != STANDARDISER_VERSION:
            raise ValueError(
                f"standardise options are version {self.version!r}; this code implements {STANDARDISER_VERSION!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `rdkit_version` is informational (results can shift between RDKit releases)."""
        return {**asdict(self), "rdkit_version": rdBase.rdkitVersion}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StandardiseOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"rdkit_version"}
        if unknown:
            raise ValueError(f"unknown standardise option(s): {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in data.items() if k in known})


DEFAULT_OPTIONS = StandardiseOptions()


@dataclass(slots=True)
class StandardiseResult:
    """Outcome for one input: canonical SMILES and InChIKey, or an error saying why not.

    `changed_steps` names the steps that altered the molecule. `inchikey` can be None for an ok
    result when InChI cannot represent the molecule (e.g. dummy atoms); `warnings` says so.
    """

    ok: bool
    smiles: str | None
    inchikey: str | None
    error: str | None = None
    changed_steps: tuple[str, ...] = ()
    options: StandardiseOptions = DEFAULT_OPTIONS
    warnings: tuple[str, ...] = ()


class Standardiser:
    """Holds the RDKit standardiser objects for one set of options (cheap to reuse, costly to build)."""

    def __init__(self, options: StandardiseOptions | None = None, *, fast_path: bool = True) -> None:
        self.options = options or DEFAULT_OPTIONS
        self.fast_path = fast_path
        self._params = rdMolStandardize.CleanupParameters()
        self._params.preferOrganic = self.options.prefer_organic
        self._chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=self.options.prefer_organic)
        self._uncharger = rdMolStandardize.Uncharger()
        self._tautomers = rdMolStandardize.TautomerEnumerator() if self.options.canonical_tautomer else None

    # Parsing ---------------------------------------------------------------------------------
    def _fail(self, error: str) -> StandardiseResult:
        return StandardiseResult(False, None, None, error, (), self.options)

    def _parse_smiles(self, smiles: str) -> tuple[Chem.Mol | None, str | None]:
        text = smiles.strip() if smiles else ""
        if not text:
            return None, "empty SMILES"
        with capture_errors() as log:
            mol = Chem.MolFromSmiles(text)
        if mol is None:
            return None, "invalid SMILES: " + (clean_messages(log.messages, text) or "RDKit could not parse it")
        return mol, None

    def _parse_molblock(self, molblock: str) -> tuple[Chem.Mol | None, str | None]:
        with capture_errors() as log:
            mol = Chem.MolFromMolBlock(molblock, sanitize=True, removeHs=True)
        if mol is None:
            # Sanitisation errors are in the error log; parse errors only RDKit's SD reader reports.
            reason = clean_messages(log.messages) or molblock_reason(molblock)
            return None, "invalid molfile: " + (reason or "RDKit refused it without giving a reason")
        return mol, None

    # Steps -------------------------------------------------------------------------------------
    @staticmethod
    def _needs_cleanup(mol: Chem.Mol) -> bool:
        if mol.HasSubstructMatch(_CHARGED) or mol.HasSubstructMatch(_NON_ORGANIC):
            return True
        return any(mol.HasSubstructMatch(p) for p in _NEUTRAL_NORMALISER_PATTERNS)

    def _fragment(self, mol: Chem.Mol) -> Chem.Mol:
        if self.options.fragment == "parent":
            return rdMolStandardize.FragmentParent(mol, self._params, True)
        return self._chooser.choose(mol)

    def standardise_mol(self, mol: Chem.Mol | None) -> StandardiseResult:
        """Standardise a sanitised molecule (not modified: every step returns a new molecule)."""
        if mol is None:
            return self._fail("no molecule")
        if mol.GetNumAtoms() == 0:
            return self._fail("molecule has no atoms")
        opts, fast = self.options, self.fast_path
        changed: list[str] = []
        current = mol
        signature: bytes | None = None

        def run(step: str, fn: Any) -> str | None:
            # A step changed the molecule if its serialised form changed (fragment choice: if atoms
            # were removed; the chooser rebuilds even a single fragment).
            nonlocal current, signature
            if signature is None and step != "fragment":
                signature = current.ToBinary(_NO_PROPS)
            try:
                new = fn(current)
            except Exception as exc:  # RDKit raises several exception types
                return f"{step} failed: {exc}"
            if new is None:
                return f"{step} failed"
            if new.GetNumAtoms() == 0:
                return f"no atoms left after {step}"
            if step == "fragment":
                if new.GetNumAtoms() != current.GetNumAtoms():
                    changed.append(step)
                current, signature = new, None
                return None
            new_signature = new.ToBinary(_NO_PROPS)
            if new_signature != signature:
                changed.append(step)
                if step == "neutralise":
                    # Stereo flags perceived on the charged form go stale (an [NH+] centre becomes
                    # an invertible amine): perceive again, as a freshly built molecule would.
                    Chem.AssignStereochemistry(new, cleanIt=True, force=True)
                    new_signature = new.ToBinary(_NO_PROPS)
            current, signature = new, new_signature
            return None

        error = None
        if opts.cleanup and (not fast or self._needs_cleanup(current)):
            error = run("cleanup", lambda m: rdMolStandardize.Cleanup(m, self._params))
        if error is None and opts.fragment != "none" and (not fast or len(Chem.GetMolFrags(current)) > 1):
            error = run("fragment", self._fragment)
        if error is None and opts.neutralise and (not fast or current.HasSubstructMatch(_CHARGED)):
            error = run("neutralise", self._uncharger.uncharge)
        if error is None and self._tautomers is not None:
            error = run("tautomer", self._tautomers.Canonicalize)
        if error is not None:
            return self._fail(error)
        try:
            smiles = Chem.MolToSmiles(current, isomericSmiles=opts.isomeric)
            inchikey = Chem.MolToInchiKey(current) or None
        except Exception as exc:
            return self._fail(f"could not write the molecule: {exc}")
        warnings = () if inchikey else ("InChI cannot represent this molecule: no InChIKey",)
        return StandardiseResult(True, smiles, inchikey, None, tuple(changed), opts, warnings)

    def standardise_smiles(self, smiles: str) -> StandardiseResult:
        mol, error = self._parse_smiles(smiles)
        return self._fail(error) if error else self.standardise_mol(mol)

    def standardise_molblock(self, molblock: str) -> StandardiseResult:
        mol, error = self._parse_molblock(molblock)
        return self._fail(error) if error else self.standardise_mol(mol)

    def standardise_many(self, items: Iterable[str | None]) -> list[StandardiseResult]:
        """SMILES or molblocks (a string with an inner newline), in order; RDKit logging silenced."""
        out: list[StandardiseResult] = []
        append = out.append
        with quiet():
            for item in items:
                if not item:
                    append(self._fail("empty input"))
                elif "\n" in item.strip():  # a molblock; "CCO\n" is still a SMILES
                    append(self.standardise_molblock(item))
                else:
                    append(self.standardise_smiles(item))
        return out


@functools.lru_cache(maxsize=16)
def get_standardiser(options: StandardiseOptions = DEFAULT_OPTIONS, fast_path: bool = True) -> Standardiser:
    """A shared `Standardiser` per (options, fast_path) in this process."""
    return Standardiser(options, fast_path=fast_path)


def standardise_smiles(
    smiles: str, options: StandardiseOptions | None = None, *, fast_path: bool = True
) -> StandardiseResult:
    """Standardise one SMILES (RDKit logging silenced; the parse error is in `.error`)."""
    with quiet():
        return get_standardiser(options or DEFAULT_OPTIONS, fast_path).standardise_smiles(smiles)


def standardise_batch(
    items: Iterable[str | None], options: StandardiseOptions | None = None, *, fast_path: bool = True
) -> list[StandardiseResult]:
    """Standardise SMILES and/or molblocks (a string with an inner newline is a molblock), one result each.

    `fast_path=False` runs every step on every molecule (same results, ~2-3x slower; for checking).
    """
    return get_standardiser(options or DEFAULT_OPTIONS, fast_path).standardise_many(items)
