"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi` (docs/DEPLOYMENT.md).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS. The access log is on, on
stdout, with the booker's private-link and feed tokens masked in the request line and the referrer (the
default format logs no request headers, so the Authorization header never appears).
"""

import multiprocessing

from gunicorn.glogging import Logger

bind = "127.0.0.1:8000"  # the TLS proxy on the same host connects here; --bind to change
# Django's views block on the database: a few processes per CPU (--workers N to choose).
workers = multiprocessing.cpu_count() * 2 + 1
timeout = 30
graceful_timeout = 30
# Workers restart after this many requests (plus jitter), which bounds the effect of any slow leak.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger, with the secret path parts masked in every field of an access-log line."""

    def atoms(self, resp, req, environ, request_time):
        from config.redaction import redact

        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = RedactingLogger
