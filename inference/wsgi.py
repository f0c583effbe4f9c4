"""gunicorn's entry point: `gunicorn -c inference/gunicorn.conf.py inference.wsgi:application`."""

from .app import create_app
from .config import settings_from_env
from .logs import configure

_settings = settings_from_env()
configure(_settings.log_level, _settings.log_format)
application = create_app(_settings)
