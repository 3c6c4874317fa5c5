"""The public booking form and the booker's change form, built at request time from the module's built-in
and custom fields (docs/architecture.md#form-fields).

These classes only describe inputs, read what was posted and put errors back next to their inputs: the
answers are checked by bookings.validation (through the same services the API calls), whose error paths
(`contact.email`, `event.start`, `events[1].resourceIds`, custom fields by id) map onto the inputs'
names (`contact-email`, `events-0-start`, `events-1-resourceIds`, `contact-<field id>`).

- fields: one question (Field), one requested date (EventBlock), the inputs of a module's FormFields;
- repeat: the optional "Repeat" questions of a date and their messages;
- errors: the validator's errors worded for people and placed next to their inputs;
- availability: "Check availability" and the free times suggested after a refused request;
- booking: the request form of a module (BookingForm);
- change: the booker's "request a change" (ChangeForm).
"""
