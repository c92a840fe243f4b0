from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Audits, organisations and releases"

    def ready(self) -> None:
        from django.core import checks

        from audits.checks import TAG, check_audit_definitions

        checks.register(check_audit_definitions, TAG)
