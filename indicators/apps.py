from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "indicators"
    verbose_name = "Indicators"

    def ready(self) -> None:
        from django.core import checks

        from audits.checks import TAG
        from indicators.checks import check_indicator_definitions

        checks.register(check_indicator_definitions, TAG)
