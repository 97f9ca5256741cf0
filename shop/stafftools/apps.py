from django.apps import AppConfig


class StafftoolsConfig(AppConfig):
    """Staff tools on search by photo: identify goods, batch jobs for a delivery or a set of outside listings."""

    name = "shop.stafftools"
    label = "stafftools"
    verbose_name = "Staff tools"
