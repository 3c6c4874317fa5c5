from bookings.models import BookingStatus
from events.models import EventStatus


def test_submit_holds_slot(setup, mailoutbox):
    result = setup.submit()
    assert result.booking.status == BookingStatus.PENDING
    assert [e.status for e in result.events] == [EventStatus.TENTATIVE]
