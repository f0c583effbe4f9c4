"""Django-free core of HPO experiments: the spec format, the search space and the Optuna glue.

Like `chemcore`, nothing here imports Django, so the same code can validate a spec in
the portal and run inside a training job.
"""
