"""Django-free chemistry core: readers, standardisation and featurisers.

This package runs inside the portal, the training container and the inference server, so it must
never import Django (directly or indirectly). Submodules are imported explicitly
(`models_registry.core.readers`, `.standardise`, `.featurisers`) to keep imports cheap.
"""
