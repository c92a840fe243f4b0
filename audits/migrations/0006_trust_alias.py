"""The trusts' former and common names (audits/seed/aliases.csv), for finding a trust by the name people know."""

import django.db.models.deletion
from django.db import migrations, models


def load(apps, schema_editor):
    from audits.organisations import load_aliases

    Trust = apps.get_model("audits", "Trust")
    if not Trust.objects.exists():  # a database emptied since its trusts were loaded (a test's flush): nothing to name
        return
    load_aliases(models=(Trust, apps.get_model("audits", "TrustAlias")))


class Migration(migrations.Migration):

    dependencies = [
        ('audits', '0005_release_publication'),
    ]

    operations = [
        migrations.CreateModel(
            name='TrustAlias',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('alias', models.CharField(max_length=200)),
                ('kind', models.CharField(choices=[('former', 'Former name'), ('common', 'Common name')], max_length=6)),
                ('note', models.TextField(blank=True)),
                ('trust', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aliases', to='audits.trust')),
            ],
            options={
                'ordering': ['trust', 'alias'],
                'constraints': [models.UniqueConstraint(fields=('trust', 'alias'), name='trust_alias_unique')],
            },
        ),
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
