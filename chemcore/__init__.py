"""chemcore: the platform's Django-free core, from a file of molecules to a prediction.

Used by screening (ingest, campaign shards), experiments (the trial job trains with it), the registry
(package checks, predictions) and the inference server. It imports no Django, no Celery and nothing
of the portal (the import contracts in pyproject.toml check it) and installs alone from
requirements/core.txt; the flavour libraries (torch, TensorFlow) are imported only by packages of
their flavour. Submodules are imported explicitly to keep imports cheap:

    readers/       stream records from SMILES, CSV/TSV and SDF files (gzipped or not)
    standardise    RDKit MolStandardize → canonical SMILES + InChIKey, options recorded
    featurisers    JSON-spec featurisers (Morgan/ECFP, RDKit 2D descriptors, MACCS) into NumPy
    package/       the model package: manifest, flavours, archives, verified local copies
    predictor      a loaded package: SMILES in, aligned predictions out; the per-process cache
    training/      fit a model family on a dataset, with splits, metrics and callbacks
    splits, metrics, depict, rdkit_logs

See README.md and PACKAGE_FORMAT.md.
"""
