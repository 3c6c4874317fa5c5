"""An integrator's journey through the client generated from our schema (tests/client_check/run.py): every
call goes through the generated package's functions and models, as an integrator's code would."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

PACKAGE = "allot_api_client"


def operation(operation_id: str) -> Any:
    """The generated module of an operation, found by its operationId under whichever tag it is filed."""
    api = importlib.import_module(f"{PACKAGE}.api")
    for tag in pkgutil.iter_modules(api.__path__):
        try:
            return importlib.import_module(f"{PACKAGE}.api.{tag.name}.{operation_id}")
        except ModuleNotFoundError:
            continue
    raise AssertionError(f"the generated client has no operation {operation_id}")


def call(operation_id: str, client: Any, expected: int, body: dict | None = None, **params: Any) -> dict:
    """Call an operation with its generated body model (built from a plain dict) and return the JSON answer."""
    module = operation(operation_id)
    if body is not None:
        model = inspect.signature(module.sync_detailed).parameters["body"].annotation
        model = getattr(importlib.import_module(f"{PACKAGE}.models"), model) if isinstance(model, str) else model
        params["body"] = model.from_dict(body)
    response = module.sync_detailed(client=client, **params)
    assert response.status_code == expected, (operation_id, response.status_code, response.content[:800])
    print(f"   {operation_id}: {response.status_code}", flush=True)
    return response.parsed.to_dict() if hasattr(response.parsed, "to_dict") else response.parsed


def journey(base_url: str, seeded: dict) -> None:
    client_module = importlib.import_module(PACKAGE)
    staff = client_module.AuthenticatedClient(base_url=base_url, token=seeded["token"], raise_on_unexpected_status=True)
    public = client_module.Client(base_url=base_url, raise_on_unexpected_status=True)
    objects, room = seeded["objects"], seeded["resources"][0]
    print("== the integrator's journey", flush=True)

    rate = call("rates_create", staff, 201, {"resourceId": room, "name": "Hourly", "unit": 0, "price": "20.00"})
    product = call(
        "products_create", staff, 201, {"resourceId": room, "name": "Projector", "unitPrice": "5.00", "unit": 0}
    )
    resource = call("resources_retrieve", staff, 200, id=UUID(room))
    assert rate["id"] in [r["id"] for r in resource["rates"]], resource["rates"]

    start = (datetime.now(UTC) + timedelta(days=30)).replace(hour=10, minute=0, second=0, microsecond=0)
    submitted = call(
        "bookings_submit",
        public,
        201,
        {
            "orgId": objects["org"],
            "bookingModuleId": objects["module"],
            "portalId": objects["portal"],
            "contact": {"name": "Ada Client", "email": "ada.client@example.com"},
            "event": {
                "title": "Generated client",
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                "resourceIds": [room],
                "rateId": rate["id"],
                "products": [{"productId": product["id"], "quantity": 1}],
            },
        },
    )
    booking_id = submitted["booking"]["id"]

    listed = call("bookings_list", staff, 200, booking_module_id=UUID(objects["module"]))
    assert booking_id in listed["bookings"], "the submitted booking is listed (bookings by id)"

    read = call("bookings_retrieve", staff, 200, id=UUID(booking_id))["booking"]
    approved = call(
        "bookings_approve", staff, 200, {"clientBookingLastUpdatedAt": read["lastUpdatedAt"]}, id=UUID(booking_id)
    )
    price = approved["booking"]["events"][0]["price"]
    assert price["rateId"] == rate["id"] and Decimal(price["total"]) == Decimal("45.00"), price  # 2 h x 20 + 5

    contact_id = approved["booking"]["contactId"]
    credit = call(
        "booking_credits_create",
        staff,
        201,
        {"orgId": objects["org"], "contactId": contact_id, "description": "Prepaid", "amount": "50.00"},
    )
    adjusted = call(
        "booking_credits_adjust", staff, 200, {"delta": "-10.00", "reason": "Goodwill used"}, id=UUID(credit["id"])
    )
    assert Decimal(adjusted["balance"]) == Decimal("40.00"), adjusted

    canceled = call("bookings_cancel", staff, 200, {"eventProcedure": 0}, id=UUID(booking_id))
    assert canceled["booking"]["status"] == 3, canceled["booking"]["status"]  # CANCELED
    print("== the journey did what it should", flush=True)
