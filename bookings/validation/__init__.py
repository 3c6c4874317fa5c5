"""The one validator for booking answers (docs/architecture.md#form-fields, docs/architecture.md#booking-rules).

The submit and create services call it, the API and the public form reach it through them, and a form
can call it directly to show errors next to their fields. It parses raw answers (strings, numbers,
lists, as they come from JSON or a form), checks them against the module's built-in and custom fields
and the resources' booking rules, and returns clean values or raises ValidationFailed listing every
problem with its field path (`contact.email`, `event.start`, `events[1].resourceIds`) and code.

- `fields`: one answer (text, email, phone, numbers, dates, choices, checkboxes), custom fields, the
  contact section, the booking's title and note.
- `billing`: what a request says about paying (rateId, products, overridePrice, the booking's choices),
  its shape only; what it costs is bookings.pricing's.
- `repeat`: repeat rules, their expansion into occurrences, and the errors of an occurrence.
- `events`: one requested time (resources, unit, times, attendees), visitors, the booking rules,
  a repeated request's occurrences.
- `submission`: a whole request, assessed or validated.
- `public`: what a booker may see of the errors, and the dry run `POST /bookings/validate`.

This package imports no other bookings package but the models (docs/architecture.md#the-bookings-app).
"""
