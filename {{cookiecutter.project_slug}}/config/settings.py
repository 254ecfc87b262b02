"""Settings for {{ cookiecutter.project_slug }}, read from the environment (and a local .env) with django-environ.

Unset DEBUG means off. With DEBUG off, a missing SECRET_KEY or ALLOWED_HOSTS stops start-up with a message that
names the variable. With no DATABASE_URL the project runs on an embedded SQLite file. .env.example documents every
variable.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.log import InvalidLogSetting, log_format, log_level, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
# One or more segments of letters, digits, "-", "_" and ".", separated by "/": "staff-a8f3", "ops/admin".
ADMIN_PATH = re.compile(r"[\w.-]+(/[\w.-]+)*", re.ASCII)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def required(name, value):
    """Stop start-up with a message naming the variable when a production setting is missing or empty."""
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable: it is required when DEBUG is off.")
    return value


def admin_url(value):
    """ADMIN_URL as a URL pattern ("staff-a8f3" and "/staff-a8f3/" are "staff-a8f3/"), refused in one sentence when
    it is not a relative path of letters, digits, "-", "_" and "." (a full URL, spaces) or would put the admin at the
    site's root."""
    path = value.strip().strip("/")
    if not ADMIN_PATH.fullmatch(path):
        raise ImproperlyConfigured(
            f"ADMIN_URL {value!r} is not a path for the admin; use letters, digits, -, _ and /, e.g. staff-a8f3/."
        )
    return path + "/"


def env_list(name, default=()):
    """A comma-separated variable as a list, each item stripped: "a.com, b.com" is ["a.com", "b.com"]."""
    return [item.strip() for item in env.list(name, default=list(default)) if item.strip()]


PROJECT_NAME = {{ cookiecutter.project_name | py_string }}

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    ADMIN_URL = env("ADMIN_URL", default="admin/")
else:
    SECRET_KEY = required("SECRET_KEY", env("SECRET_KEY", default=""))
    ALLOWED_HOSTS = required("ALLOWED_HOSTS", env_list("ALLOWED_HOSTS"))
    ADMIN_URL = required("ADMIN_URL", env("ADMIN_URL", default=""))

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # WhiteNoise serves the static files under runserver too, as it does in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "apps.core",
    "apps.accounts",
    # `make app name=...` adds new apps here.
]

MIDDLEWARE = [
    "config.request_id.RequestIdMiddleware",
    # /healthz answers here: before the host check, the HTTPS redirect and sessions (see config/health.py).
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.CurrentUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates (config/templates: the development home page); apps keep theirs.
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# An unset or empty DATABASE_URL means the embedded SQLite file.
DATABASES = {"default": env.db_url_config(env("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections in production (a new PostgreSQL connection costs more than most requests); none under the
# development server, which starts a thread per request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock up front, so concurrent writers queue instead of failing,
    # and the task-claiming transaction is serialised as SELECT ... FOR UPDATE would serialise it elsewhere.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

# Django's Tasks framework (django.tasks; on 5.2 the django-tasks backport): @task functions are kept in the task table
# and run by `manage.py run_tasks` (apps/core/tasks/backend.py). A distributed engine is one BACKEND away (README).
TASKS = {
    "default": {
        "BACKEND": "apps.core.tasks.backend.DatabaseBackend",
        "QUEUES": env_list("TASK_QUEUES") or ["default"],
        "OPTIONS": {
            "max_attempts": env.int("TASK_MAX_ATTEMPTS", default=3),
            "retry_backoff": env.float("TASK_RETRY_BACKOFF", default=2.0),
            "result_retention_days": env.float("TASK_RESULT_RETENTION_DAYS", default=7.0),
        },
    }
}

{% if cookiecutter.django_version == "5.2" -%}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
{% endif -%}
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default={{ cookiecutter.timezone | py_string }})
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# collectstatic (scripts/release) writes each file under a content-hashed name, compressed; WhiteNoise serves the
# hashed names with far-future cache headers.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The admin lives at a path of your choosing in production (ADMIN_URL, required when DEBUG is off).
ADMIN_URL = admin_url(ADMIN_URL)

# Security. Every default is the safe one when DEBUG is off; `manage.py check --deploy` reports nothing.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# One line per record on stderr; LOG_FORMAT=json for log collectors. LOG_LEVEL in any case.
try:
    LOG_LEVEL = log_level(env("LOG_LEVEL", default="INFO"))
    LOGGING = logging_config(LOG_LEVEL, log_format(env("LOG_FORMAT", default="text")))
except InvalidLogSetting as error:
    raise ImproperlyConfigured(str(error)) from None

# Errors go to Sentry when SENTRY_DSN is set; without it sentry-sdk is not even imported.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )
