"""Load the shipped trusts, Cancer Alliances and predecessor codes, so a new database can import at once."""
from django.db import migrations


def load(apps, schema_editor):
    from audits.organisations import load_organisations

    load_organisations(models=(apps.get_model("audits", "Alliance"), apps.get_model("audits", "Trust"),
                               apps.get_model("audits", "TrustSuccessor")))


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
