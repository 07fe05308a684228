"""Production settings for the load benchmark, with plain static storage.

The benchmark requests HTML only, so it does not need collectstatic; the manifest
storage of production refuses to build while a vendored file points at a missing
source map (vendor/chart-4.6.1.umd.min.js → chart.umd.min.js.map).
"""

from studio.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
