"""Stored public figures of results and trends (docs/adr/0004-disclosure-control-against-differencing.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("indicators", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="indicatorresult",
            name="public",
            field=models.JSONField(
                blank=True,
                help_text="What everyone but the audit's analysts sees of a shown trust or alliance row: rounded counts and the figures computed from them (indicators.disclosure.protect); null for England and hidden rows",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="trendseries",
            name="public",
            field=models.JSONField(
                blank=True,
                help_text="{points, xmr} as everyone but the audit's analysts sees them (indicators.disclosure.protect); null for England",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="indicatorresult",
            name="suppressed",
            field=models.BooleanField(
                default=False,
                help_text="Hidden from everyone but the audit's analysts: a count is small (primary suppression) or would let one be worked out (secondary suppression)",
            ),
        ),
        migrations.AlterField(
            model_name="trendseries",
            name="points",
            field=models.JSONField(help_text="[{quarter, start, numerator, denominator, value, suppressed}]"),
        ),
    ]
