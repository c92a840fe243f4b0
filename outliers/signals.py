"""A withdrawn release voids the cases it opened.

The audits app withdraws releases (``audits.services.withdraw_release``) and must not import outliers (the
layers in pyproject.toml), so the outlier process listens instead: when a release is saved with its status
among the saved fields and it is withdrawn, its open cases become void in the same transaction. This needs
no change to the audits app; voiding only open cases makes a second save do nothing.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from audits.models import Release


@receiver(post_save, sender=Release, dispatch_uid="outliers.void_cases_of_withdrawn_release")
def void_cases_of_withdrawn_release(sender, instance: Release, created: bool, update_fields=None, **kwargs) -> None:
    if created or not instance.is_withdrawn:
        return
    if update_fields is not None and "status" not in update_fields:
        return
    from outliers.services import void_cases  # services import the models of every layer below

    void_cases(instance)
