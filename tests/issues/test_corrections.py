"""Accepted corrections: stored as overrides, applied to the point, kept
through re-ingestions until the producer's file agrees or the producer
removes them."""
from __future__ import annotations

import csv
import json
import os

import pytest
import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from .conftest import PLUGINS
from .helpers import act

FRANCE_SERVICES = "/work/shared/data/points/france_services/liste-fs-20240801.csv"


def _publish(report_id, user):
    act("servicespublics_issue_moderate", user, id=report_id, action="publish")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db")
class TestOverrides:
    @pytest.fixture
    def proposed(self, roles):
        resource = roles["public"]["resources"][0]
        created = act("servicespublics_issue_create", roles["users"]["reporter"],
                      package_id=roles["public"]["id"], resource_id=resource["id"],
                      point_id="fs-12", category="wrong_location",
                      description="La brigade a déménagé de l'autre côté de la place.",
                      correction={"address": "2 place du Marché", "latitude": 48.11,
                                  "longitude": -1.68, "status": "open"})
        _publish(created["id"], roles["users"]["editor"])
        return created

    def test_accept_records_an_override(self, roles, proposed):
        from ckanext.servicespublics.issues import corrections

        received = []
        signal = tk.signals.ckanext.signal("servicespublics_issue_correction_accepted")

        def receiver(sender, **kwargs):
            received.append((sender, kwargs))

        signal.connect(receiver)
        try:
            result = act("servicespublics_issue_accept_correction", roles["users"]["editor"],
                         id=proposed["id"])
        finally:
            signal.disconnect(receiver)
        resource_id = proposed["resource_id"]
        assert result["status"] == "resolved"
        assert [c["state"] for c in result["corrections"]] == ["active"]
        assert result["corrections"][0]["accepted_by"] == "Editor"
        assert corrections.active_overrides(resource_id) == {
            "fs-12": {"address": "2 place du Marché", "latitude": 48.11,
                      "longitude": -1.68, "status": "open"}}
        assert [h["action"] for h in result["history"]][-2:] == [
            "correction_accepted", "status"]
        assert len(received) == 1
        sender, kwargs = received[0]
        assert sender == resource_id
        assert kwargs["source_id"] == "fs-12" and kwargs["report_id"] == proposed["id"]
        assert kwargs["fields"]["address"] == "2 place du Marché"
        listed = act("servicespublics_issue_correction_list", None, resource_id=resource_id)
        assert [(c["source_id"], c["report_number"]) for c in listed] == [
            ("fs-12", proposed["number"])]
        origin = corrections.active_corrections(resource_id)[0]
        assert origin["report_id"] == proposed["id"]
        assert origin["accepted_by"] == roles["users"]["editor"]["id"]

    def test_edited_values_and_the_latest_wins(self, roles, proposed):
        from ckanext.servicespublics.issues import corrections

        act("servicespublics_issue_accept_correction", roles["users"]["admin"],
            id=proposed["id"], fields={"address": "2 bis place du Marché"},
            status="in_progress")
        second = act("servicespublics_issue_create", None, package_id=roles["public"]["id"],
                     resource_id=proposed["resource_id"], point_id="fs-12",
                     category="wrong_information", description="Horaires faux.",
                     correction={"opening_hours": "lundi : 9:00 - 12:00",
                                 "address": "3 place du Marché"})
        _publish(second["id"], roles["users"]["editor"])
        act("servicespublics_issue_accept_correction", roles["users"]["editor"],
            id=second["id"])
        assert corrections.active_overrides(proposed["resource_id"]) == {
            "fs-12": {"address": "3 place du Marché",
                      "opening_hours": "lundi : 9:00 - 12:00"}}

    def test_apply_overrides_to_rows_and_retire_when_the_file_agrees(self, roles, proposed):
        from ckanext.servicespublics.issues import corrections

        act("servicespublics_issue_accept_correction", roles["users"]["editor"],
            id=proposed["id"])
        resource_id = proposed["resource_id"]
        # the producer's file still has the old values: the override applies
        rows = [{"source_id": "fs-12", "address": "Place de la Mairie",
                 "latitude": 48.1, "longitude": -1.7, "status": "open", "name": "Brigade"},
                {"source_id": "fs-13", "address": "Rue Haute", "latitude": 47.0,
                 "longitude": -1.0}]
        stats = corrections.apply_overrides(resource_id, rows, commit=True)
        assert stats == {"applied": 1, "retired": 0}
        assert rows[0] == {"source_id": "fs-12", "address": "2 place du Marché",
                           "latitude": 48.11, "longitude": -1.68, "status": "open",
                           "name": "Brigade"}
        assert rows[1]["address"] == "Rue Haute"
        # the producer fixed the file (formatting aside): the override retires
        rows = [{"source_id": "fs-12", "address": " 2  PLACE du marché ",
                 "latitude": "48.110000", "longitude": "-1.68", "status": "open"}]
        assert corrections.apply_overrides(resource_id, rows, commit=True) == {
            "applied": 0, "retired": 1}
        assert corrections.active_overrides(resource_id) == {}
        shown = act("servicespublics_issue_show", None, id=proposed["id"])
        assert shown["corrections"][0]["state"] == "removed"
        assert shown["corrections"][0]["removal_reason"] == "source_agrees"
        assert shown["history"][-1]["action"] == "correction_retired"

    def test_producer_removes_a_correction(self, roles, proposed):
        from ckanext.servicespublics.issues import corrections

        result = act("servicespublics_issue_accept_correction", roles["users"]["editor"],
                     id=proposed["id"])
        correction_id = result["corrections"][0]["id"]
        for user in (None, roles["users"]["reporter"], roles["users"]["other_editor"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_correction_remove", user, id=correction_id)
        removed = act("servicespublics_issue_correction_remove", roles["users"]["admin"],
                      id=correction_id)
        assert removed["state"] == "removed"
        assert corrections.active_overrides(proposed["resource_id"]) == {}
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_correction_remove", roles["users"]["admin"],
                id=correction_id)
        with pytest.raises(tk.ObjectNotFound):
            act("servicespublics_issue_correction_remove", roles["users"]["admin"], id="nope")
        assert act("servicespublics_issue_correction_list", None,
                   resource_id=proposed["resource_id"]) == []
        assert len(act("servicespublics_issue_correction_list", None,
                       resource_id=proposed["resource_id"], include_removed=True)) == 1

    def test_accept_needs_a_published_report_on_a_point(self, roles, proposed):
        editor = roles["users"]["editor"]
        no_point = act("servicespublics_issue_create", None, package_id=roles["public"]["id"],
                       category="service_missing", description="Il manque la mairie.",
                       correction={"name": "Mairie"})
        _publish(no_point["id"], editor)
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_accept_correction", editor, id=no_point["id"])
        pending = act("servicespublics_issue_create", None, package_id=roles["public"]["id"],
                      resource_id=proposed["resource_id"], point_id="fs-1",
                      category="wrong_information", description="Nom faux.",
                      correction={"name": "France services"})
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_accept_correction", editor, id=pending["id"])
        nothing = act("servicespublics_issue_create", None, package_id=roles["public"]["id"],
                      resource_id=proposed["resource_id"], point_id="fs-1",
                      category="wrong_information", description="Nom faux.")
        _publish(nothing["id"], editor)
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_accept_correction", editor, id=nothing["id"])
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_accept_correction", editor, id=nothing["id"],
                fields={"latitude": 91, "longitude": 0})

    def test_deleted_resource_retires_its_overrides(self, roles, proposed):
        from ckanext.servicespublics.issues import corrections

        act("servicespublics_issue_accept_correction", roles["users"]["editor"],
            id=proposed["id"])
        helpers.call_action("resource_delete", {"user": roles["users"]["sysadmin"]["name"]},
                            id=proposed["resource_id"])
        assert corrections.active_overrides(proposed["resource_id"]) == {}
        shown = act("servicespublics_issue_show", roles["users"]["editor"], id=proposed["id"])
        assert shown["corrections"][0]["removal_reason"] == "resource_deleted"

    def test_functions_without_the_tables(self, roles):
        """The points plugin may call the API on a site without this plugin's
        tables: nothing happens."""
        from ckanext.servicespublics.issues import corrections

        model.Session.execute(sa.text("ALTER TABLE servicespublics_issues_correction "
                                      "RENAME TO servicespublics_issues_correction_x"))
        try:
            assert corrections.active_overrides("r") == {}
            assert corrections.apply_overrides("r", [{"source_id": "a"}]) == {
                "applied": 0, "retired": 0}
            assert corrections.reapply_to_points("r") == {
                "applied": 0, "retired": 0, "missing": 0}
        finally:
            model.Session.rollback()


# ------------------------------------------------------- with the points table

def _points_available() -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    migration = os.path.join(here, "..", "..", "ckanext-servicespublics", "ckanext",
                             "servicespublics", "migration", "servicespublics_points",
                             "versions")
    try:
        import ckanext.servicespublics.points.plugin  # noqa: F401
    except ImportError:
        return False
    return os.path.isdir(migration) and bool(os.listdir(migration))


POINT_PLUGINS = PLUGINS + " servicespublics_points"
FS_MAPPING = {"id": "id_fs", "name": "lib_fs", "service_type": "=france-services",
              "address": "adresse"}


def _write_subset(path, changes=None, rows=12):
    """The first rows of the real France Services list (2024), with some
    values changed as a producer would."""
    with open(FRANCE_SERVICES, encoding="utf-8", newline="") as src:
        reader = csv.DictReader(src)
        selected = [row for _, row in zip(range(rows), reader)]
        fields = reader.fieldnames
    for row in selected:
        row.update((changes or {}).get(row["id_fs"], {}))
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(selected)
    return selected


def _point(resource_id, source_id):
    row = model.Session.execute(sa.text(
        "SELECT name, address, ST_Y(geom) AS lat, ST_X(geom) AS lon, status "
        "FROM servicespublics_points_point WHERE resource_id = :r AND source_id = :s"),
        {"r": resource_id, "s": source_id}).mappings().one()
    model.Session.commit()
    return dict(row)


@pytest.mark.skipif(not _points_available(), reason="the points plugin is not there")
@pytest.mark.ckan_config("ckan.plugins", POINT_PLUGINS)
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestPointsTable:
    @pytest.fixture
    def ingested(self, roles, httpserver, tmp_path):
        """A resource of the public dataset whose file (12 real France
        Services) is served on loopback and ingested by the points plugin."""
        path = tmp_path / "fs.csv"
        rows = _write_subset(path)

        def serve():
            httpserver.clear()
            httpserver.expect_request("/fs.csv").respond_with_data(
                path.read_bytes(), content_type="text/csv")

        serve()
        sysadmin = {"user": roles["users"]["sysadmin"]["name"]}
        resource = helpers.call_action(
            "resource_create", sysadmin, package_id=roles["public"]["id"],
            url=httpserver.url_for("/fs.csv"), format="CSV", name="France services",
            role="point_file", column_mapping=json.dumps(FS_MAPPING))

        def ingest():
            serve()
            helpers.call_action("servicespublics_points_ingest", sysadmin,
                                id=resource["id"], sync=True)

        ingest()
        return {"resource": resource, "rows": rows, "path": path, "ingest": ingest}

    def _accept(self, roles, ingested, correction):
        resource_id = ingested["resource"]["id"]
        source_id = ingested["rows"][1]["id_fs"]
        created = act("servicespublics_issue_create", None,
                      package_id=roles["public"]["id"], resource_id=resource_id,
                      point_id=source_id, category="wrong_location",
                      description="Le bureau de poste a déménagé sur l'esplanade.",
                      correction=correction)
        _publish(created["id"], roles["users"]["editor"])
        return created, act("servicespublics_issue_accept_correction",
                            roles["users"]["editor"], id=created["id"])

    def test_accepted_correction_is_applied_to_the_point(self, roles, ingested):
        resource_id = ingested["resource"]["id"]
        source = ingested["rows"][1]
        before = _point(resource_id, source["id_fs"])
        assert before["address"] == source["adresse"]
        created, accepted = self._accept(roles, ingested, {
            "address": "1 Esplanade de La Poste", "latitude": 46.46, "longitude": 5.08})
        # the form only keeps what changes: the reporter saw the current values
        assert created["correction"] == {"address": "1 Esplanade de La Poste",
                                         "latitude": 46.46, "longitude": 5.08}
        assert accepted["history"][-2]["data"]["applied"] is True
        after = _point(resource_id, source["id_fs"])
        assert after["address"] == "1 Esplanade de La Poste"
        assert abs(after["lat"] - 46.46) < 1e-9 and abs(after["lon"] - 5.08) < 1e-9
        assert after["name"] == before["name"]
        # removing it puts the producer's values back
        act("servicespublics_issue_correction_remove", roles["users"]["admin"],
            id=accepted["corrections"][0]["id"])
        restored = _point(resource_id, source["id_fs"])
        assert restored["address"] == source["adresse"]
        assert abs(restored["lat"] - float(source["latitude"])) < 1e-9

    def test_override_survives_reingestion_until_the_file_agrees(self, roles, ingested):
        from ckanext.servicespublics.issues import corrections

        resource_id = ingested["resource"]["id"]
        source_id = ingested["rows"][1]["id_fs"]
        self._accept(roles, ingested, {"address": "1 Esplanade de La Poste"})
        # the same file again: the points are rebuilt, and the ingestion's
        # servicespublics_points_replaced signal writes the override back
        ingested["ingest"]()
        assert _point(resource_id, source_id)["address"] == "1 Esplanade de La Poste"
        assert corrections.active_overrides(resource_id)

        # the producer publishes a file with the corrected address
        _write_subset(ingested["path"], {source_id: {"adresse": "1 esplanade de la Poste"}})
        ingested["ingest"]()
        assert corrections.active_overrides(resource_id) == {}
        retired = model.Session.execute(sa.text(
            "SELECT removal_reason FROM servicespublics_issues_correction "
            "WHERE resource_id = :r"), {"r": resource_id}).scalars().all()
        assert retired == ["source_agrees"]
        assert _point(resource_id, source_id)["address"] == "1 esplanade de la Poste"

    def test_a_second_notice_of_the_same_points_changes_nothing(self, roles, ingested):
        """The points that carry a correction say the corrected values, not
        the producer's: reading them again as the file's (the same ingestion
        announced twice) must not retire the correction as agreed."""
        from ckanext.servicespublics.issues import corrections, subscriptions

        resource_id = ingested["resource"]["id"]
        source_id = ingested["rows"][1]["id_fs"]
        self._accept(roles, ingested, {"address": "1 Esplanade de La Poste"})
        # written onto the live points when accepted
        assert corrections.reapply_to_points(resource_id) == {
            "applied": 0, "retired": 0, "missing": 0}
        ingested["ingest"]()
        for _ in range(2):
            subscriptions.points_replaced(resource_id, resource_id=resource_id)
        assert corrections.reapply_to_points(resource_id) == {
            "applied": 0, "retired": 0, "missing": 0}
        assert _point(resource_id, source_id)["address"] == "1 Esplanade de La Poste"
        active = corrections.active_corrections(resource_id)
        assert [c["fields"] for c in active] == [{"address": "1 Esplanade de La Poste"}]
        assert active[0]["applied_ingestion"] == corrections.live_ingestion(resource_id)
        # and the next ingestion still writes it back
        ingested["ingest"]()
        assert _point(resource_id, source_id)["address"] == "1 Esplanade de La Poste"
        assert corrections.active_overrides(resource_id)

    def test_points_ingestion_reapplies_overrides_itself(self, roles, ingested):
        resource_id = ingested["resource"]["id"]
        source_id = ingested["rows"][1]["id_fs"]
        self._accept(roles, ingested, {"address": "1 Esplanade de La Poste"})
        ingested["ingest"]()
        assert _point(resource_id, source_id)["address"] == "1 Esplanade de La Poste"
