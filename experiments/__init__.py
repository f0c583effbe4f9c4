"""HPO experiments: an Optuna study whose trials run as jobs through `compute`.

`core/` (Django-free) parses and validates specs and drives Optuna; `services`/`selectors` are the
public writes and reads; `launcher` (steps, the driver), `trials` (state transitions, reports),
`reconcile`, `finalise`, `registration` and `summary` run the loop; `jobs` maps trials onto compute
backends; `dataset_files` checks and stores the data files people upload (`Dataset`), `datasets`
streams the training data; `api/` has the REST endpoints for people and for trial jobs; `trial_job/`
(Django-free, with `client`) is what runs inside each job; `cli` (Django-free too) is the terminal's
way in.
"""
