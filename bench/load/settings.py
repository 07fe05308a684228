"""Production settings for the load benchmark, with plain static storage.

The benchmark requests HTML only, so it skips collectstatic; production's manifest
storage would refuse to render {% static %} without the manifest it writes.
"""

from studio.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
