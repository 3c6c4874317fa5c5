"""API tokens (docs/adr/0018-personal-api-tokens-with-knox.md): django-rest-knox's authentication, without its
housekeeping on every request.

knox's `_cleanup_token` reads every token of the caller on each request to delete the other ones that
expired: one query more on every authenticated call. Here only the token presented is checked (and deleted
when it expired, refused as knox refuses it); another expired token is deleted when it is next presented,
and is refused in any case.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):  # type: ignore[misc]  # knox ships no type hints
    def _cleanup_token(self, auth_token: Any) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


class TokenScheme(KnoxTokenScheme):  # type: ignore[no-untyped-call]  # drf-spectacular's registration hook
    """The OpenAPI security scheme of the tokens: knox's, unchanged."""

    target_class = "core.api.auth.TokenAuthentication"
