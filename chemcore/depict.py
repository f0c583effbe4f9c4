"""Structure depictions as SVG, drawn by RDKit."""

from __future__ import annotations

import base64

from rdkit import Chem
from rdkit.Chem.Draw import rdMolDraw2D

from .rdkit_logs import quiet


def smiles_to_svg(smiles: str, *, width: int = 220, height: int = 160) -> str | None:
    """An SVG drawing of the molecule, or None when the SMILES does not parse."""
    with quiet():
        mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    options = drawer.drawOptions()
    options.clearBackground = False
    options.addStereoAnnotation = True
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def smiles_to_data_uri(smiles: str, *, width: int = 220, height: int = 160) -> str | None:
    """The SVG as a data: URI for an <img>, so drawing text can never run as markup in the page."""
    svg = smiles_to_svg(smiles, width=width, height=height)
    if svg is None:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
