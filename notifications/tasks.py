from django_tasks import task

from .sending import notification_send, notifications_send_batch


@task()
def send_notifications(batch: str) -> dict[str, int]:
    """Every email one transaction wrote (their Notification.batch)."""
    return notifications_send_batch(batch=batch)


@task()
def send_notification(notification_id: str) -> str:
    # One email per task, as the rows written before batches were enqueued: kept so those tasks still run.
    return notification_send(notification_id=notification_id)
