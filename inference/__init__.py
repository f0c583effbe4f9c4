"""The Django-free inference server: model packages served over TensorFlow Serving's REST API and
the Open Inference Protocol (KServe v2), run by gunicorn behind nginx. See README.md."""

__version__ = "1.0.0"
