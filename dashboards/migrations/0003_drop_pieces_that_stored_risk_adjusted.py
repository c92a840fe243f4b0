"""Pieces that stored ``risk_adjusted`` rather than the indicator's kind (indicators/kinds): drop them.

The audit and trust pieces now store the name of each indicator's kind, which the templates ask what to
show. Pages build a run's pieces again on their first visit (ADR 0003); nothing they show changes.
"""

from django.db import migrations


def drop_pieces(apps, schema_editor):
    apps.get_model("dashboards", "FigureSpec").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("dashboards", "0002_drop_pieces_built_before_disclosure_control")]

    operations = [migrations.RunPython(drop_pieces, migrations.RunPython.noop)]
