"""Pieces built before docs/adr/0004 published figures that give suppressed counts back: drop them.

Pages build a run's pieces again on their first visit. A run computed before the same change has no
public figures, so its trust and alliance results are not shown to the public until it is recomputed
(``python manage.py compute_indicators --audit CODE``).
"""

from django.db import migrations


def drop_pieces(apps, schema_editor):
    apps.get_model("dashboards", "FigureSpec").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
        ("indicators", "0002_published_figures"),
    ]

    operations = [migrations.RunPython(drop_pieces, migrations.RunPython.noop)]
