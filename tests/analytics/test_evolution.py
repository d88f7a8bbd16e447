"""Openings and closures: the points' own dates and the versions of their
datasets (a point that disappears from a newer version closes at that
version's date, unless it carries its own closing date)."""
from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from .conftest import (
    FRANCE_SERVICES, ingest, marks, read_csv, set_ingestion_date, write_csv,
)

pytestmark = marks()

MAPPING = {"id": "id", "name": "name", "service_type": "service_type",
           "latitude": "latitude", "longitude": "longitude", "insee_code": "insee_code",
           "opening_date": "opening_date", "closing_date": "closing_date", "status": "status"}


def _point(pid, name, insee, lon, lat, opening="", closing="", status="open"):
    return {"id": pid, "name": name, "service_type": "caf", "insee_code": insee,
            "longitude": lon, "latitude": lat, "opening_date": opening,
            "closing_date": closing, "status": status}


P1 = _point("p1", "CAF de Gap", "05061", 6.0794, 44.5594)
P2 = _point("p2", "CAF de Briançon", "05023", 6.6436, 44.8986)
P3 = _point("p3", "CAF de Rennes", "35238", -1.6778, 48.1173)
P4 = _point("p4", "CAF d'Embrun", "05046", 6.4956, 44.5636)
P5 = _point("p5", "CAF de Vitré", "35360", -1.2017, 48.1236, closing="2024-12-31",
            status="planned_closure")
P6 = _point("p6", "CAF de Saint-Malo", "35288", -2.0075, 48.6493, opening="2023-06-01")
P7 = _point("p7", "CAF de Laragne", "05070", 5.8236, 44.3158)
P8 = _point("p8", "CAF de Fougères", "35115", -1.2022, 48.3524, opening="2025-01-15")
P9 = _point("p9", "CAF de Redon", "35236", -2.0847, 47.6517, opening="2027-01-01",
            status="planned_opening")


def _versions(tmp_path, package):
    from ckanext.servicespublics.analytics import history

    v1 = write_csv(str(tmp_path / "v1.csv"), [P1, P2, P3, P4, P5, P6])
    first = ingest(v1, package, column_mapping=MAPPING)
    set_ingestion_date(first.resource_id, "2024-01-10 09:00:00")
    # what the points plugin's signal does after each ingestion
    assert history.sync()[0]["first"] is True
    v2 = write_csv(str(tmp_path / "v2.csv"), [P1, P2, P3, P6, P7, P8, P9])
    ingest(v2, package, resource_id=first.resource_id, column_mapping=MAPPING)
    set_ingestion_date(first.resource_id, "2025-03-01 09:00:00")
    recorded = history.sync()
    assert recorded[0]["appeared"] == 3 and recorded[0]["disappeared"] == 2
    return first.resource_id


class TestEvolution:
    def test_openings_and_closures_from_dates_and_versions(self, public_dataset, tmp_path):
        _versions(tmp_path, public_dataset)
        result = helpers.call_action("servicespublics_evolution", service_type="caf",
                                     date_from="2024-06-01", date_to="2027-06-01",
                                     interval="month")
        totals = result["totals"]
        # on 2024-06-01: p1..p6 (p6 opened on 2023-06-01, p5 closes on 2024-12-31)
        assert totals["count_from"] == 6
        # on 2027-06-01: p1, p2, p3, p6, p7, p8 and p9 (opens on 2027-01-01)
        assert totals["count_to"] == 7
        # p7 (version of 2025-03-01) and p8 (its own date, 2025-01-15)
        assert totals["openings"] == 2
        assert totals["openings_from_versions"] == 1
        assert totals["planned_openings"] == 1  # p9, after today
        # p4 (gone in the version of 2025-03-01) and p5 (its own date, 2024-12-31)
        assert totals["closures"] == 2
        assert totals["closures_from_versions"] == 1
        assert totals["planned_closures"] == 0
        assert totals["net"] == 1
        rows = {r["code"]: r for r in result["territories"]}
        assert (rows["05"]["openings"], rows["05"]["closures"]) == (1, 1)  # p7, p4
        assert (rows["35"]["openings"], rows["35"]["closures"]) == (1, 1)  # p8, p5
        assert (rows["35"]["count_from"], rows["35"]["count_to"]) == (3, 4)
        series = {s["period"]: s for s in result["series"]}
        # p5 closes on 2024-12-31 (no longer in service that day)
        assert series["2024-12"]["closures"] == 1 and series["2024-12"]["count"] == 5
        assert series["2025-01"]["closures"] == 0 and series["2025-01"]["openings"] == 1
        assert series["2025-03"]["closures"] == 1 and series["2025-03"]["openings"] == 1
        assert series["2027-01"]["openings"] == 1 and series["2027-01"]["future"]
        assert series["2024-06"]["count"] == 6 and series["2027-05"]["count"] == 7
        assert len(result["series"]) == 12 * 3 + 1

        # the density and the map on a date before the second version
        before = helpers.call_action("servicespublics_density", service_type="caf",
                                     level="departement", date="2025-02-01")
        counts = {r["code"]: r["count"] for r in before["territories"]}
        assert (counts["05"], counts["35"]) == (3, 3)  # p1, p2, p4; p3, p6, p8
        now = helpers.call_action("servicespublics_density", service_type="caf")
        counts = {r["code"]: r["count"] for r in now["territories"]}
        assert (counts["05"], counts["35"]) == (3, 3)  # p1, p2, p7; p3, p6, p8

    def test_a_point_that_comes_back_opens_again(self, public_dataset, tmp_path):
        from ckanext.servicespublics.analytics import history

        resource_id = _versions(tmp_path, public_dataset)
        v3 = write_csv(str(tmp_path / "v3.csv"), [P1, P2, P3, P4, P6, P7, P8, P9])
        ingest(v3, public_dataset, resource_id=resource_id, column_mapping=MAPPING)
        set_ingestion_date(resource_id, "2025-09-01 09:00:00")
        result = helpers.call_action("servicespublics_evolution", service_type="caf",
                                     date_from="2025-06-01", date_to="2025-12-31")
        assert result["totals"]["openings"] == 1  # p4 again
        assert history.pending() == []
        rows = model.Session.execute(sa.text(
            "SELECT appeared_on, disappeared_on FROM servicespublics_analytics_point "
            "WHERE point_key = 'p4' ORDER BY id")).all()
        assert rows == [(None, datetime.date(2025, 3, 1)), (datetime.date(2025, 9, 1), None)]

    def test_status_changes_between_versions(self, public_dataset, tmp_path):
        from ckanext.servicespublics.analytics import history

        v1 = write_csv(str(tmp_path / "v1.csv"), [P1, P9])
        first = ingest(v1, public_dataset, column_mapping=MAPPING)
        set_ingestion_date(first.resource_id, "2024-01-10 09:00:00")
        history.sync()
        closed = {**P1, "status": "closed"}
        opened = {**P9, "status": "open", "opening_date": ""}
        v2 = write_csv(str(tmp_path / "v2.csv"), [closed, opened])
        ingest(v2, public_dataset, resource_id=first.resource_id, column_mapping=MAPPING)
        set_ingestion_date(first.resource_id, "2024-05-01 09:00:00")
        result = helpers.call_action("servicespublics_evolution", service_type="caf",
                                     date_from="2024-02-01", date_to="2024-12-31")
        totals = result["totals"]
        assert (totals["openings"], totals["closures"]) == (1, 1)
        assert (totals["count_from"], totals["count_to"]) == (1, 1)

    def test_real_files(self, public_dataset, producer):
        """The France Services list: openings by labellisation date."""
        ingest(FRANCE_SERVICES, public_dataset, column_mapping={
            "id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
            "opening_date": {"column": "labellisation_fs",
                             "pattern": r"(\d{2}/\d{2}/\d{4})"}})
        expected = 0
        for row in read_csv(FRANCE_SERVICES):
            day, month, year = row["labellisation_fs"].split()[-1].split("/")
            if "2021-01-01" < f"{year}-{month}-{day}" <= "2022-12-31":
                expected += 1
        result = helpers.call_action("servicespublics_evolution",
                                     service_type="france-services", date_from="2021-01-01",
                                     date_to="2022-12-31", level="region")
        assert result["totals"]["openings"] == expected > 100
        assert result["interval"] == "month"
        assert sum(s["openings"] for s in result["series"]) == expected
        assert result["totals"]["count_to"] - result["totals"]["count_from"] == expected

    def test_invalid_dates(self):
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action("servicespublics_evolution", date_from="2025-01-01",
                                date_to="2024-01-01")
        assert "date_from" in e.value.error_dict
        with pytest.raises(tk.ValidationError) as e:
            helpers.call_action("servicespublics_evolution")
        assert "date_from" in e.value.error_dict


class TestHistory:
    def test_a_deleted_resource_leaves_no_history(self, public_dataset, tmp_path):
        from ckanext.servicespublics.analytics import history
        from ckanext.servicespublics.points import store
        from ckanext.servicespublics.points.jobs import raw_cursor

        path = write_csv(str(tmp_path / "v1.csv"), [P1, P2])
        result = ingest(path, public_dataset, column_mapping=MAPPING)
        assert history.sync()[0]["points"] == 2
        with raw_cursor() as cur:
            store.delete_resource_points(cur, result.resource_id)
        assert history.pending() == [result.resource_id]
        assert history.sync() == [{"resource_id": result.resource_id, "deleted": 2}]
        density = helpers.call_action("servicespublics_density", service_type="caf")
        assert density["count"] == 0

    def test_points_without_ids_are_followed_by_name_and_place(self, public_dataset, tmp_path):
        from ckanext.servicespublics.analytics import history

        rows = [{**p, "id": ""} for p in (P1, P2, P3)]
        path = write_csv(str(tmp_path / "v1.csv"), rows)
        result = ingest(path, public_dataset, column_mapping=MAPPING)
        history.sync()
        moved = {**rows[1], "name": "CAF de Briançon (nouvelle adresse)"}
        path = write_csv(str(tmp_path / "v2.csv"), [rows[0], moved, rows[2]])
        ingest(path, public_dataset, resource_id=result.resource_id, column_mapping=MAPPING)
        recorded = history.sync()
        assert (recorded[0]["appeared"], recorded[0]["disappeared"]) == (1, 1)


class TestCommands:
    def test_load_centres_and_sync(self, cli, tmp_path, public_dataset):
        from ckan.cli.cli import ckan as ckan_cli

        path = tmp_path / "centres.csv"
        path.write_text("code,longitude,latitude\n05061,6.08,44.56\n35238,-1.68,48.11\n",
                        encoding="utf-8")
        result = cli.invoke(ckan_cli, ["servicespublics", "analytics", "load-centres",
                                       "--source", str(path)])
        assert result.exit_code == 0, result.output
        assert "2 points de référence" in result.output
        bad = tmp_path / "bad.csv"
        bad.write_text("code,lon,lat\n05061,6,44\n", encoding="utf-8")
        result = cli.invoke(ckan_cli, ["servicespublics", "analytics", "load-centres",
                                       "--source", str(bad)])
        assert result.exit_code != 0
        assert "missing column(s) longitude, latitude" in result.output
        count = model.Session.execute(sa.text(
            "SELECT count(*) FROM servicespublics_analytics_commune")).scalar()
        assert count == 2  # the bad file changed nothing
        ingest(write_csv(str(tmp_path / "v1.csv"), [P1]), public_dataset,
               column_mapping=MAPPING)
        result = cli.invoke(ckan_cli, ["servicespublics", "analytics", "sync"])
        assert result.exit_code == 0, result.output
        assert "1 point(s)" in result.output and "1 ressource(s)" in result.output

    @pytest.mark.ckan_config("ckanext.servicespublics.analytics.sync_max_points", "1")
    @pytest.mark.usefixtures("clean_queues")
    def test_large_versions_are_recorded_by_a_job(self, public_dataset, tmp_path):
        import ckan.lib.jobs as jobs

        ingest(write_csv(str(tmp_path / "v1.csv"), [P1, P2]), public_dataset,
               column_mapping=MAPPING)
        density = helpers.call_action("servicespublics_density", service_type="caf")
        assert density["count"] == 0  # not recorded yet: a job will
        queued = jobs.get_queue().jobs
        assert [j.meta.get("title") for j in queued] == [
            "servicespublics analytics: points history"]
        assert queued[0].perform() == 1
        density = helpers.call_action("servicespublics_density", service_type="caf")
        assert density["count"] == 2


class TestSignals:
    def test_the_points_plugins_signals_record_at_once(self, public_dataset, tmp_path):
        """What the points plugin (after an ingestion) and the issues plugin
        (after a correction in place) send."""
        import ckan.plugins.toolkit as tk

        from ckanext.servicespublics.analytics import history

        result = ingest(write_csv(str(tmp_path / "v1.csv"), [P1, P2]), public_dataset,
                        column_mapping=MAPPING)
        tk.signals.ckanext.signal("servicespublics_points_replaced").send(result.resource_id)
        assert history.pending() == []
        # a moderated report moves a point and closes the other one
        with model.meta.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE servicespublics_points_point SET geom = ST_SetSRID(ST_MakePoint("
                "6.5, 44.6), 4326) WHERE source_id = 'p1'"))
            conn.execute(sa.text(
                "UPDATE servicespublics_points_point SET status = 'closed' "
                "WHERE source_id = 'p2'"))
        tk.signals.ckanext.signal("servicespublics_points_corrected").send(result.resource_id)
        export = helpers.call_action("servicespublics_points_export", service_type="caf",
                                     state="open,closed")
        by_id = {f["properties"]["source_id"]: f for f in export["features"]}
        assert by_id["p1"]["geometry"]["coordinates"] == [6.5, 44.6]
        assert by_id["p2"]["properties"]["state"] == "closed"
        evolution = helpers.call_action("servicespublics_evolution", service_type="caf",
                                        date_from="2020-01-01")
        assert evolution["totals"]["closures"] == 1
