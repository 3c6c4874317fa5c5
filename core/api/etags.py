"""ETags and If-Match: a PATCH or DELETE made from a stale read answers 412 instead of overwriting."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError, FieldError

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag you read; a stale one answers 412.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="Send it back as If-Match to PATCH or DELETE safely.",
)


class PreconditionFailed(DomainError):
    code = "PRECONDITION_FAILED"
    status = 412
    default_message = "The object changed since you read it (If-Match does not match its ETag)."


class Stamped(Protocol):
    """What an ETag is made of: every model of ours (resources.base.BaseModel) has both."""

    pk: Any
    updated_at: datetime


def etag_of(obj: Stamped) -> str:
    digest = hashlib.sha256(f"{obj.pk}:{obj.updated_at.isoformat()}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def check_if_match(request: Request, obj: Stamped) -> None:
    """PATCH/DELETE with a stale If-Match answers 412; without the header the write goes ahead."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if etag_of(obj) not in wanted:
        raise PreconditionFailed(
            errors=[FieldError("If-Match", "PRECONDITION_FAILED", "Reload the object and try again.")]
        )


def with_etag(response: Response, obj: Stamped) -> Response:
    response["ETag"] = etag_of(obj)
    return response
