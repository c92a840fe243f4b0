from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Roles, API tokens and the audit log"

    def ready(self) -> None:
        from accounts import (
            security,  # noqa: F401  connects the lockout log to django-axes' signal
            signals,  # noqa: F401  sign-ins, sign-outs and failed sign-ins go to the audit log
        )
