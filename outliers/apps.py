from django.apps import AppConfig


class OutliersConfig(AppConfig):
    name = "outliers"
    verbose_name = "Outlier process"

    def ready(self) -> None:
        from outliers import signals  # noqa: F401 - connects the receivers
