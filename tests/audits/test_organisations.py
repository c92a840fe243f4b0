"""Organisations load from seed CSVs and reload from a newer file."""

import shutil

import pytest

from audits.models import Trust, TrustSuccessor
from audits.organisations import SEED_DIR, OrganisationFileError, load_organisations, provider_lookup


@pytest.mark.django_db
def test_the_shipped_seed_has_21_alliances_and_every_trust_in_one(orgs):
    from audits.models import Alliance

    assert Alliance.objects.count() == 21
    assert Trust.objects.count() == 163
    assert not Trust.objects.filter(alliance__isnull=True).exists()
    assert TrustSuccessor.objects.get(predecessor_code="RW6").successor_id == "RM3"


@pytest.mark.django_db
def test_reloading_a_newer_file_updates_adds_and_keeps_dropped_trusts_inactive(orgs, tmp_path):
    for name in ("cancer_alliances.csv", "trusts.csv", "successors.csv"):
        shutil.copy(SEED_DIR / name, tmp_path / name)
    lines = (tmp_path / "trusts.csv").read_text().splitlines()
    lines = [
        line.replace("Manchester University NHS Foundation Trust", "Manchester University NHS FT")
        for line in lines
        if not line.startswith("R0B,")
    ]
    (tmp_path / "trusts.csv").write_text("\n".join(lines) + "\n")
    with (tmp_path / "successors.csv").open("a") as f:
        f.write("R0B,R0A,2026-04-01,made-up merger for the test\n")
    summary = load_organisations(directory=tmp_path)
    assert (summary.trusts, summary.inactive, summary.successors) == (162, 1, 3)
    assert Trust.objects.get(code="R0A").name == "Manchester University NHS FT"
    assert Trust.objects.get(code="R0B").active is False
    lookup = provider_lookup()
    assert lookup.resolve("R0B") == "R0A" and lookup.resolve("RW6") == "RM3"
    load_organisations(directory=tmp_path)  # re-runnable
    assert Trust.objects.count() == 163


@pytest.mark.django_db
def test_a_trust_in_an_unknown_alliance_is_refused_with_its_line(orgs, tmp_path):
    for name in ("cancer_alliances.csv", "trusts.csv", "successors.csv"):
        shutil.copy(SEED_DIR / name, tmp_path / name)
    with (tmp_path / "trusts.csv").open("a") as f:
        f.write("ZZZ,Nowhere Trust,E56000999,,\n")
    with pytest.raises(OrganisationFileError, match="trusts.csv line 165: alliance_code 'E56000999'"):
        load_organisations(directory=tmp_path)


@pytest.mark.django_db
def test_aliases_load_declaratively_and_a_bad_row_is_refused_with_its_line(orgs, tmp_path):
    from audits.models import TrustAlias

    for name in ("cancer_alliances.csv", "trusts.csv", "successors.csv", "aliases.csv"):
        shutil.copy(SEED_DIR / name, tmp_path / name)
    shipped = (tmp_path / "aliases.csv").read_text().splitlines()
    kept = "\n".join([*shipped[:2], "RJ7,St George's Healthcare,former,test"]) + "\n"
    (tmp_path / "aliases.csv").write_text(kept)
    assert load_organisations(directory=tmp_path).aliases == 2
    assert set(TrustAlias.objects.values_list("trust_id", "alias")) == {
        (shipped[1].split(",")[0], shipped[1].split(",")[1]),
        ("RJ7", "St George's Healthcare"),
    }
    for row, message in (
        ("ZZZ,Nowhere,former,", "aliases.csv line 4: trust_code 'ZZZ' is not a current trust"),
        ("RJ7,Somewhere,nickname,", "aliases.csv line 4: kind 'nickname' is not one of common, former"),
    ):
        with (tmp_path / "aliases.csv").open("a") as f:
            f.write(row + "\n")
        with pytest.raises(OrganisationFileError, match=message):
            load_organisations(directory=tmp_path)
        (tmp_path / "aliases.csv").write_text(kept)
    (tmp_path / "aliases.csv").unlink()
    assert load_organisations(directory=tmp_path).aliases == 0  # without the file, the names are kept
    assert TrustAlias.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_aliases_migration_runs_on_a_database_emptied_of_trusts():
    """A transactional test's flush leaves no trusts: migrating back past the aliases and forward again must not fail
    (it left the database without its alias table, and every later test of the run erred)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from audits.models import TrustAlias

    # Emptied as a transactional test's flush empties it (sequences kept: later releases' tables are named by id).
    TrustSuccessor.objects.all().delete()
    TrustAlias.objects.all().delete()
    Trust.objects.all().delete()
    executor = MigrationExecutor(connection)
    executor.migrate([("audits", "0005_release_publication")])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert TrustAlias.objects.count() == 0
