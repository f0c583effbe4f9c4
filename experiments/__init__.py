"""HPO experiments: an Optuna study whose trials run as jobs through `compute`.

`core/` (Django-free) parses and validates specs and drives Optuna; `services`/`selectors` are the
public writes and reads; `launcher` (steps, the driver), `trials` (state transitions, reports),
`reconcile`, `finalise`, `registration` and `summary` run the loop; `jobs` maps trials onto compute
backends; `datasets` streams the training data; `api/` has the REST endpoints for people and for
trial jobs; `trial_job/` (Django-free, with `client`) is what runs inside each job.
"""
