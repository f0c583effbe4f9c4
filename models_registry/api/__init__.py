"""REST API of the registry: models, versions, aliases, predictions (`models_registry.api.urls`)."""
