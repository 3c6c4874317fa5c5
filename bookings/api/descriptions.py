"""What the bookings endpoints say of themselves in the OpenAPI schema (their `description`): who may call
each, what it changes and the answers that refuse it. Kept here so the views stay short."""

SUBMIT = (
    "The public form's request, with no token (throttled per client): the module must be published on the "
    "portal given, and the answers must satisfy its form and the resources' rules in the venue's local time. "
    "The booking is PENDING (holding its times if the module holds pending slots) or, when the module "
    "approves at once, APPROVED; the booker is emailed a private link, whose `accessToken` the answer "
    "carries. Times already taken are 409, whose message names the resource, never the other booking. "
    "With `submission: false` and a staff token it creates a booking as POST /bookings does."
)


LIST = (
    "Bookings of the organizations you belong to (any role), in the order they were made. The filters narrow "
    "the list; `limit` cuts it into pages, and `nextCursor` (null on the last page) is the `cursor` of the "
    "next one. `bookings` maps each id to its booking; `returnEvents=true` adds their events as "
    "`associatedEvents`."
)


CREATE = (
    "Manager and above. A booking in the `bookingStatus` given (an approved one gets its events at once), or, "
    "with `submission: true`, a request recorded on a booker's behalf: PENDING, as if the booker had sent "
    "it. Times already taken are 409 with the conflicts."
)


RETRIEVE = (
    "One booking of your organizations (any role), as staff see it: its requested times, events, price and "
    "`internalNotes`. Another organization's booking is 404."
)


PATCH = (
    'Manager and above. Only `customerId`, `contactId` (an id of the organization; "" or null clears it) '
    "and `internalNotes` change; another field of the booking is 400 IMMUTABLE_FIELD, an unknown key 400 "
    "UNKNOWN_FIELD. An `If-Match` with the ETag you read refuses the change with 412 if the booking changed "
    "since. Each change is logged on the booking."
)


APPROVE = (
    "Manager and above. A PENDING booking becomes APPROVED: its requested times become confirmed events (or "
    "their held events are confirmed), it is priced and logged, and the booker is emailed. "
    "`clientBookingLastUpdatedAt` (the booking's `lastUpdatedAt` as you read it) refuses with 409 "
    "STALE_BOOKING an approval of a booking changed since; times taken meanwhile are 409 with the conflicts."
)


DENY = (
    "Manager and above. A PENDING booking becomes DENIED and its held times are freed. "
    "`clientBookingLastUpdatedAt` refuses with 409 STALE_BOOKING a booking changed since you read it; "
    "`notification` says whether and how the booker is emailed."
)


CANCEL = (
    "Manager and above. An APPROVED booking becomes CANCELED: `eventProcedure` 0 keeps its events on the "
    "calendar as canceled, 1 deletes them. Logged; `notification` says whether and how the booker is emailed."
)


VALIDATE = """Runs the checks of `POST /bookings/submit` (or, with `submission: false`, of a staff create)
on the same body and books nothing: no booking, hold, log or email. Every problem is reported at once (field
answers, each rule of each requested time and occurrence, conflicts), as `errors` with the codes a submit would
answer with; a repeated request's problems are one error per occurrence (`event.occurrences[6]`, with its
`date`, `start`, `end` and all `codes`). `times` lists every time the request would book (repeats expanded).
For each time that fails only on when it is, `suggestions` gives up to 3 free times of the same length on the
same resources, nearest first (30-minute steps, up to 14 days either way, the same rules and conflicts).
Conflicts are read without a lock: a submit can still lose the slot to a faster one. `contact` is checked only
when given. Throttled like the public submit."""
