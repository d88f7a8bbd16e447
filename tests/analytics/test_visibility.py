"""Visibility: the points of a private dataset count only for those who may
read it, in every number of the national map."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import factories, helpers

from .conftest import DILA_MAPPING, EDUCATION, dila_records, ingest, marks

pytestmark = marks()

EDUCATION_MAPPING = {"service_type_values": {
    "Ecole": "ecole", "Collège": "college", "Lycée": "lycee", "EREA": "lycee", "*": None}}


@pytest.fixture
def world(tmp_path, producer):
    """Public: the France Services of the Hautes-Alpes' directory; private
    (another organisation): the gendarmeries of the Indre and the schools of
    Ille-et-Vilaine."""
    member = factories.User()
    owner = factories.Organization(name="ministere", users=[
        {"name": member["name"], "capacity": "member"}])
    private = factories.Dataset(owner_org=owner["id"], name="prive", private=True)
    rows = [r for r in dila_records("annuaire-36.sjson") if r.get("type") == "gendarmerie"]
    path = tmp_path / "gendarmeries-36.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    private36 = ingest(str(path), private, column_mapping=DILA_MAPPING).rows_ingested
    ingest(EDUCATION, private, column_mapping=EDUCATION_MAPPING)
    # the schools in operation today, read from the points plugin's table
    schools = model.Session.execute(sa.text(
        "SELECT count(*) FROM servicespublics_points_point WHERE package_id = :p "
        "AND service_type IN ('ecole', 'college', 'lycee') AND status IN ('open', "
        "'planned_closure') AND (opening_date IS NULL OR opening_date <= current_date) "
        "AND (closing_date IS NULL OR closing_date > current_date)"),
        {"p": private["id"]}).scalar()
    model.Session.commit()
    public = factories.Dataset(owner_org=producer["id"], name="public")
    rows05 = [r for r in dila_records("annuaire-05.sjson") if r.get("type") == "gendarmerie"]
    path = tmp_path / "gendarmeries-05.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows05), encoding="utf-8")
    public05 = ingest(str(path), public, column_mapping=DILA_MAPPING).rows_ingested
    return {"member": member, "sysadmin": factories.Sysadmin(), "outsider": factories.User(),
            # the records with coordinates
            "private36": private36, "public05": public05,
            "schools": schools}


def _as(user, action, **data):
    return helpers.call_action(action, context={"user": user["name"] if user else "",
                                                "ignore_auth": False}, **data)


class TestVisibility:
    @pytest.mark.parametrize("who, sees", [(None, False), ("outsider", False),
                                           ("member", True), ("sysadmin", True)])
    def test_every_number(self, world, who, sees):
        user = world[who] if who else None
        density = _as(user, "servicespublics_density", service_type="gendarmerie")
        counts = {r["code"]: r["count"] for r in density["territories"]}
        assert counts["05"] == world["public05"]
        assert counts["36"] == (world["private36"] if sees else 0)
        schools = _as(user, "servicespublics_density", domain="education-culture-sport")
        assert {r["code"]: r["count"] for r in schools["territories"]}["35"] == (
            world["schools"] if sees else 0)

        nearest = _as(user, "servicespublics_nearest", service_type="gendarmerie",
                      commune="36044", limit=3)  # Châteauroux
        departements = {s["departement_code"] for s in nearest["services"]}
        assert departements == ({"36"} if sees else {"05"})

        export = _as(user, "servicespublics_points_export", service_type="gendarmerie",
                     territory="36", territory_level="departement")
        assert export["count"] == len(export["features"]) == (
            world["private36"] if sees else 0)

        evolution = _as(user, "servicespublics_evolution", service_type="gendarmerie",
                        date_from="2000-01-01", territory="36",
                        territory_level="departement")
        assert evolution["totals"]["count_to"] == (world["private36"] if sees else 0)

        per_commune = _as(user, "servicespublics_nearest", service_type="gendarmerie",
                          territory="36", territory_level="departement",
                          include_communes=False)
        assert per_commune["summary"]["services"] == (
            world["private36"] + world["public05"] if sees else world["public05"])

    def test_a_hidden_point_is_answered_like_an_unknown_one(self, world):
        hidden = _as(world["sysadmin"], "servicespublics_points_export",
                     service_type="gendarmerie", territory="36",
                     territory_level="departement", limit=1)["features"][0]["id"]
        with pytest.raises(tk.ValidationError) as unknown:
            _as(None, "servicespublics_closure_impact", close=[99999999])
        with pytest.raises(tk.ValidationError) as private:
            _as(None, "servicespublics_closure_impact", close=[hidden])
        assert str(private.value.error_dict["close"]).replace(str(hidden), "N") == \
            str(unknown.value.error_dict["close"]).replace("99999999", "N")
        result = _as(world["member"], "servicespublics_closure_impact", close=[hidden])
        assert result["closed"][0]["id"] == hidden

    @pytest.mark.parametrize("who, sees", [(None, False), ("outsider", False),
                                           ("member", True), ("sysadmin", True)])
    def test_the_map_page_names_the_producers_one_may_read(self, app, world, producer,
                                                           who, sees):
        """The producer filter of /carte lists an organisation whose points
        are all private to those who may read them only."""
        from bs4 import BeautifulSoup

        from ckanext.servicespublics.analytics import history

        history.sync()  # as the points plugin's signal does after an ingestion
        headers = {}
        if who:
            token = helpers.call_action("api_token_create", context={"ignore_auth": True},
                                        user=world[who]["name"], name="carte")["token"]
            headers = {"Authorization": token}
        page = BeautifulSoup(app.get("/carte", headers=headers).body, "html.parser")
        config = json.loads(page.select_one("[data-config]")["data-config"])
        names = {o["name"] for o in config["organizations"]}
        assert names == ({producer["name"], "ministere"} if sees else {producer["name"]})

    def test_the_producer_filter(self, world, producer):
        density = helpers.call_action("servicespublics_density", organization="ministere",
                                      service_type="gendarmerie")
        counts = {r["code"]: r["count"] for r in density["territories"]}
        assert (counts["05"], counts["36"]) == (0, 0)  # anonymous: nothing of its own
        density = helpers.call_action("servicespublics_density", organization=producer["name"],
                                      service_type="gendarmerie")
        assert {r["code"]: r["count"] for r in density["territories"]}["05"] == \
            world["public05"]
