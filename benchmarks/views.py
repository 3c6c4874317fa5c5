"""The baselines of `make bench`, served only by config/urls_bench.py (never by config.urls).

- `baseline_insert`: the least a request that stores something can do inside this server: parse the JSON
  body, insert one row into a bench-only table in a transaction, return the row as JSON. The public submit's
  throughput is compared with it (same server, middleware, database and connection handling).
- `bookings_dump`: an organization's bookings, their requested times and their events as plain values()
  serialized to JSON, the floor for GET /api/v1/bookings?returnEvents=true over the same rows.

The baseline table is created with raw SQL (`ensure_baseline_table`), not by a model: it must not exist in
production, where a model would need a migration.
"""

import json
import uuid

from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from bookings.models import Booking, BookingEvent
from events.models import Event

BASELINE_TABLE = "bench_baseline"


def ensure_baseline_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} ("
            " id varchar(36) PRIMARY KEY, title varchar(300) NOT NULL, body text NOT NULL,"
            " created_at timestamp with time zone NOT NULL)"
        )


@csrf_exempt  # like the API's public submit, which takes no session and no CSRF token
@require_POST
def baseline_insert(request):
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "invalid JSON"}, status=400)
    row = {
        "id": str(uuid.uuid4()),
        "title": str(data.get("title") or (data.get("event") or {}).get("title", ""))[:300],
        "body": json.dumps(data),
        "createdAt": timezone.now(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (id, title, body, created_at) VALUES (%s, %s, %s, %s)",
            [row["id"], row["title"], row["body"], row["createdAt"]],
        )
    return JsonResponse({"row": {**row, "createdAt": row["createdAt"].isoformat()}}, status=201)


@require_GET
def bookings_dump(request):
    org_id = request.GET.get("org")
    body = {
        "bookings": list(Booking.objects.filter(organization_id=org_id).values()),
        "bookingEvents": list(BookingEvent.objects.filter(booking__organization_id=org_id).values()),
        "events": list(Event.objects.filter(organization_id=org_id).values()),
    }
    return HttpResponse(json.dumps(body, default=str), content_type="application/json")
