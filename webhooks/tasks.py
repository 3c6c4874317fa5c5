from django_tasks import task

from .delivery import webhook_delivery_send


@task()
def send_webhook_delivery(delivery_id: str) -> str:
    return webhook_delivery_send(delivery_id=delivery_id)
