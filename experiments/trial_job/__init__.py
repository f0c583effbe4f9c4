"""The training job of one HPO trial: `python -m experiments.trial_job`, with PORTAL_URL and TRIAL_TOKEN.

Django-free (it runs in the trainer image with no database or storage credentials): it fetches its
spec and parameters and the training data through the trial endpoints, trains with the core trainer
while reporting intermediate values (and stops when told to prune), heartbeats, uploads its model
package and reports its metrics — or the reason it failed.
"""

# The dataset endpoint's header saying what standardisation the CSV's SMILES had (JSON: `options`,
# `standardised`); the portal sets it (experiments.datasets), the job reads it.
STANDARDISATION_HEADER = "Dataset-Standardisation"
