"""The public endpoints' throttles: submits per client address, and a brake on guessing secret links.

A brake on guessing secret links: the booker's private page (/b/<token>/ and its change, cancel and
events.ics pages) and the calendar feeds (/feeds/<token>.ics).

The tokens carry 256 random bits, so guessing one is hopeless anyway; the brake keeps a scanner from
hammering the hashed-token lookup and makes any leak of a shortened or mistyped link (logs, screenshots)
useless to brute-force. Only misses count: a booker reloading their page or a calendar app polling a feed
every five minutes never reaches the limit. Once a client address has used its allowance of misses
(TOKEN_GUESS_RATE, default 20 a minute), every token-guarded page answers 429 to it until the window
moves on -- a right token included, or the answer would still tell a found token from a wrong one.

The client address is the one the public submit throttle uses (PublicSubmitThrottle: REMOTE_ADDR unless
NUM_PROXIES says how many proxies to trust), so a forged X-Forwarded-For does not reset the count.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# What a cache backend raises when it cannot be reached (the Redis client's errors, sockets, timeouts); a bug
# in the throttle itself still fails loudly.
CACHE_ERRORS = (RedisError, OSError)


class PublicSubmitThrottle(SimpleRateThrottle):
    """Per client IP, whether or not the caller is signed in (the public endpoints take no account).

    The counts live in the cache (Redis when several servers run): while it cannot be reached, requests are
    let through and the outage logged. A throttle is a brake; refusing every booking would be the outage's
    worst effect, and the database still guards every write."""

    scope = "public_submit"

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:  # Redis down, a timeout, a refused connection
            logger.warning("throttle %s: the cache cannot be reached; letting the request through", self.scope)
            return True

    def get_cache_key(self, request: Request, view: APIView | None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_ident(self, request: Request) -> str:
        return client_address(request)


def client_address(request: HttpRequest | Request) -> str:
    """The client's address as every per-client limit sees it (the throttles, anonymous idempotency keys)."""
    # With NUM_PROXIES unset DRF takes the whole X-Forwarded-For header as the identity, so any client
    # could send a fresh one per request and never be throttled. Without configured proxies, only the
    # socket's address counts; with them, DRF picks the client address the proxies appended.
    if api_settings.NUM_PROXIES is None:
        return str(request.META.get("REMOTE_ADDR"))
    # DRF reads only META, which a Django request has too.
    return str(BaseThrottle().get_ident(request))  # type: ignore[arg-type]


SCOPE = "token_guess"
DEFAULT_RATE = "20/minute"


class TokenGuessThrottle(PublicSubmitThrottle):
    """PublicSubmitThrottle's per-IP sliding window, but only misses are recorded (see `miss`)."""

    scope = SCOPE
    num_requests: int  # set by SimpleRateThrottle from the rate (its stubs omit them)
    duration: int
    rate = None  # never inherited from PublicSubmitThrottle: the allowance is TOKEN_GUESS_RATE's (get_rate)

    def get_rate(self) -> str:
        # Read at each request (not the class attribute DRF binds at import), so a changed setting applies.
        return str(api_settings.DEFAULT_THROTTLE_RATES.get(SCOPE) or DEFAULT_RATE)

    def __init__(self, request: HttpRequest):
        super().__init__()
        self.key = self.get_cache_key(request, None)  # type: ignore[arg-type]  # a Django request: only META is read
        self.now = self.timer()
        try:
            history = self.cache.get(self.key, [])
        except CACHE_ERRORS:  # the cache cannot be reached: no brake until it can (see PublicSubmitThrottle)
            logger.warning("throttle %s: the cache cannot be reached; not counting", self.scope)
            history = []
        self.history = [stamp for stamp in history if stamp > self.now - self.duration]

    def wait_seconds(self) -> int | None:
        """Seconds this client must wait before trying a token again; None when it may try now."""
        if len(self.history) < self.num_requests:
            return None
        return max(1, int(self.wait() or 1))

    def miss(self) -> None:
        """Count one wrong token against this client."""
        self.history.insert(0, self.now)
        try:
            self.cache.set(self.key, self.history, self.duration)
        except CACHE_ERRORS:  # the cache cannot be reached (see PublicSubmitThrottle)
            logger.warning("throttle %s: the cache cannot be reached; a miss is not counted", self.scope)


def guard(request: HttpRequest) -> TokenGuessThrottle:
    return TokenGuessThrottle(request)
