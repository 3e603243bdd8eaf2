"""A minimal Django project wired to Log Center the way docs/clients/python/logcenter_django.py
tells a project to: the middleware, and the REST framework exception handler."""

SECRET_KEY = "log-center-client-test"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "tests.clients.django_site.urls"
INSTALLED_APPS = ["rest_framework"]
DATABASES: dict[str, object] = {}
USE_TZ = True

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "logcenter_django.LogCenterMiddleware",
]

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "logcenter_django.custom_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
