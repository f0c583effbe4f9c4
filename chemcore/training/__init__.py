"""Training: fit a model family with given hyper-parameters, score it on a held-out split, package it.

    from chemcore.training import train_model, train_and_package, cross_validate
    result = train_model(smiles=..., y=..., task="regression", family="rf", params={"n_estimators": 300})

Families: "rf" (scikit-learn), "torch_mlp" (PyTorch), "keras_mlp" (Keras/TensorFlow); torch and
TensorFlow are imported only when their family is used. CLI: `python -m chemcore.training`.
"""

from .api import CVResult, TrainingResult, cross_validate, fit_family, train_and_package, train_model
from .callbacks import Reporter
from .dataset import TrainingTable, load_training_table
from .params import FAMILIES, FLAVOUR_OF, default_params, validate_params
from .prepare import DEFAULT_FEATURISER

__all__ = [
    "DEFAULT_FEATURISER",
    "FAMILIES",
    "FLAVOUR_OF",
    "CVResult",
    "Reporter",
    "TrainingResult",
    "TrainingTable",
    "cross_validate",
    "default_params",
    "fit_family",
    "load_training_table",
    "train_and_package",
    "train_model",
    "validate_params",
]
