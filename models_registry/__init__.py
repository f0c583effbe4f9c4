"""The model registry: registered models, versions (a checksummed package in object storage, with
lineage), aliases and their history.

Other apps use `services` (register, alias), `selectors` (find, resolve `latest`/aliases),
`predicting` (a version's loaded predictor, cached per process) and `uploads` (an incoming package
archive checked whole). The package format, loading and prediction themselves are `chemcore`'s.
"""
