from django_tasks import task

from .sending import notification_send


@task()
def send_notification(notification_id: str) -> str:
    return notification_send(notification_id=notification_id)
