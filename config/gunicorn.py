"""gunicorn settings for production: `gunicorn -c config/gunicorn.py config.wsgi` (docs/DEPLOYMENT.md).

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS. The access log is on, on
stdout, with the booker's private-link and feed tokens masked in the request line and the referrer (the
default format logs no request headers, so the Authorization header never appears).
"""

import multiprocessing

from gunicorn.glogging import Logger

# gunicorn's master runs this file before Django is set up (the workers load config.wsgi later). That is
# fine for config.redaction: it reads no setting and imports no model when imported, only the regular
# expressions and Django's exception reporter classes; and gunicorn has already put the working directory
# (the project root, where `-c config/gunicorn.py` is found) on sys.path when it runs this file.
from config.redaction import redact

bind = "127.0.0.1:8000"  # the TLS proxy on the same host connects here; --bind to change
# Django's views block on the database: a few processes per CPU (--workers N to choose).
workers = multiprocessing.cpu_count() * 2 + 1
timeout = 30
graceful_timeout = 30
# Workers restart after this many requests (plus jitter), which bounds the effect of any slow leak.
max_requests = 2000
max_requests_jitter = 200
# gunicorn's ceiling rather than its default of 4094 bytes: a query string's text may be any Unicode, and a
# character can take 12 bytes percent-encoded (a 500-character cursor refused as malformed should get the API's
# 400 at `cursor`, not the server's 414). Longer lines get 414, which the OpenAPI schema documents
# (core/api/schema.py, MAX_REQUEST_LINE).
limit_request_line = 8190
accesslog = "-"
errorlog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger, with the secret path parts masked in every field of an access-log line."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = RedactingLogger
