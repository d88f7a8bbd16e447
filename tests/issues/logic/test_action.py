"""The issue-report actions, called as each role would call them (with
authorisation), against the real database and Redis."""
from __future__ import annotations

import pytest

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.tests import helpers

from ..conftest import PLUGINS
from ..helpers import act

DESCRIPTION = ("Cette brigade de gendarmerie a déménagé l'an dernier : elle est "
               "maintenant rue de la République, à côté de la mairie.")


def report(roles, user=None, /, dataset="public", **data):
    values = {"package_id": roles[dataset]["id"], "category": "wrong_location",
              "description": DESCRIPTION}
    values.update(data)
    return act("servicespublics_issue_create", user, **values)


pytestmark = [pytest.mark.ckan_config("ckan.plugins", PLUGINS),
              pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis")]


class TestCreate:
    def test_anonymous_report_is_pending_with_a_token(self, roles):
        result = report(roles, email="citoyen@example.net",
                        resource_id=roles["public"]["resources"][0]["id"],
                        point_id="brigade-42",
                        correction={"address": "1 rue de la République",
                                    "latitude": "48,1", "longitude": -1.68})
        assert result["moderation_state"] == "pending"
        assert result["status"] == "open"
        assert result["reporter"] == "anonymous"
        assert result["is_reporter"] is True
        assert result["email"] == "citoyen@example.net"
        assert len(result["token"]) == 40
        assert result["token"] in result["url"]
        assert result["correction"] == {"address": "1 rue de la République",
                                        "latitude": 48.1, "longitude": -1.68}
        assert result["point_id"] == "brigade-42"
        assert [e["action"] for e in result["history"]] == ["created"]

    def test_signed_in_report(self, roles):
        reporter = roles["users"]["reporter"]
        result = report(roles, reporter)
        assert result["reporter"] == "user"
        assert result["is_reporter"] is True
        assert "token=" not in result["url"]
        from ckanext.servicespublics.issues.model import Report

        assert model.Session.get(Report, result["id"]).user_id == reporter["id"]

    def test_by_resource_only(self, roles):
        resource = roles["public"]["resources"][0]
        result = act("servicespublics_issue_create", None, resource_id=resource["id"],
                     category="other", description=DESCRIPTION)
        assert result["package_id"] == roles["public"]["id"]
        assert result["resource_id"] == resource["id"]

    @pytest.mark.parametrize("data, field", [
        ({"category": ""}, "category"),
        ({"category": "boredom"}, "category"),
        ({"description": ""}, "description"),
        ({"description": "x" * 5001}, "description"),
        ({"description": "voir http://a.example https://b.example www.c.example"},
         "description"),
        ({"email": "not-an-address"}, "email"),
        ({"correction": {"latitude": 48.1}}, "correction"),
        ({"correction": {"latitude": 148.1, "longitude": 2}}, "correction"),
        ({"correction": {"status": "vanished"}}, "correction"),
        ({"correction": {"opening_date": "31/12/2024"}}, "correction"),
        ({"correction": {"colour": "blue"}}, "correction"),
        ({"correction": "{not json"}, "correction"),
        ({"point_id": "p1"}, "point_id"),
    ])
    def test_validation(self, roles, data, field):
        with pytest.raises(tk.ValidationError) as e:
            report(roles, **data)
        assert field in e.value.error_dict

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.max_length", "100")
    @pytest.mark.ckan_config("ckanext.servicespublics.issues.max_links", "0")
    def test_configured_limits(self, roles):
        with pytest.raises(tk.ValidationError) as e:
            report(roles, description="a" * 101)
        assert "100" in e.value.error_dict["description"][0]
        with pytest.raises(tk.ValidationError):
            report(roles, description="voir https://exemple.fr")

    def test_resource_of_another_dataset(self, roles):
        with pytest.raises(tk.NotAuthorized):
            report(roles, resource_id=roles["private"]["resources"][0]["id"])
        with pytest.raises(tk.ValidationError) as e:
            report(roles, roles["users"]["member"],
                   resource_id=roles["private"]["resources"][0]["id"])
        assert "resource_id" in e.value.error_dict

    def test_unknown_or_deleted_dataset(self, roles):
        with pytest.raises(tk.ObjectNotFound):
            report(roles, package_id="no-such-dataset")
        helpers.call_action("package_delete", {"user": roles["users"]["sysadmin"]["name"]},
                            id=roles["other_dataset"]["id"])
        with pytest.raises((tk.ObjectNotFound, tk.NotAuthorized)):
            report(roles, roles["users"]["reporter"], dataset="other_dataset")

    def test_private_dataset(self, roles):
        with pytest.raises(tk.NotAuthorized):
            report(roles, None, dataset="private")
        with pytest.raises(tk.NotAuthorized):
            report(roles, roles["users"]["other"], dataset="private")
        assert report(roles, roles["users"]["member"], dataset="private")["id"]

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.allow_anonymous", "false")
    def test_anonymous_reports_can_be_disabled(self, roles):
        with pytest.raises(tk.NotAuthorized):
            report(roles, None)
        assert report(roles, roles["users"]["reporter"])["id"]


class TestSpam:
    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "casino viagra")
    def test_blocked_words_hold(self, roles):
        result = report(roles, description="Le meilleur CASINO en ligne, venez jouer !")
        assert result["moderation_state"] == "pending"  # as its reporter sees it
        editor = roles["users"]["editor"]
        shown = act("servicespublics_issue_show", editor, id=result["id"])
        assert shown["moderation_state"] == "held"
        assert shown["spam_reasons"] == ["blocked_words"]
        # accents and case do not hide a word; parts of words do not count
        assert report(roles, description="Viágra pas cher")["id"]
        assert act("servicespublics_issue_list", editor,
                   moderation_state="held")["count"] == 2
        ok = report(roles, description="Le casinotier du coin est fermé depuis un an.")
        assert act("servicespublics_issue_show", editor, id=ok["id"])[
            "moderation_state"] == "pending"

    def test_language_check_holds_other_languages(self, roles):
        editor = roles["users"]["editor"]
        spam = report(roles, description=(
            "Купить дешевые часы онлайн сегодня лучшие цены доставка быстро "
            "качество гарантия скидки"))
        assert act("servicespublics_issue_show", editor, id=spam["id"])[
            "spam_reasons"] == ["language"]
        english = report(roles, description=(
            "The opening hours shown for this office are wrong, it is closed "
            "on Mondays and the phone number has changed."))
        french = report(roles, description=DESCRIPTION)
        short = report(roles, description="Fermé définitivement.")
        for ok in (english, french, short):
            shown = act("servicespublics_issue_show", editor, id=ok["id"])
            assert shown["moderation_state"] == "pending", ok["description"]

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.language_check", "false")
    def test_language_check_can_be_disabled(self, roles):
        result = report(roles, description=(
            "Купить дешевые часы онлайн сегодня лучшие цены доставка быстро качество"))
        assert act("servicespublics_issue_show", roles["users"]["editor"],
                   id=result["id"])["moderation_state"] == "pending"

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "casino")
    def test_moderators_are_not_held(self, roles):
        editor = roles["users"]["editor"]
        result = report(roles, editor, description="Ancien casino transformé en mairie.")
        assert act("servicespublics_issue_show", editor, id=result["id"])[
            "moderation_state"] == "pending"


class TestRateLimits:
    @pytest.mark.ckan_config("ckanext.servicespublics.issues.rate_limit.ip", "2")
    def test_per_ip(self, roles, test_request_context):
        from ckanext.servicespublics.issues.logic.action import RateLimited

        with test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.7"}):
            report(roles)
            report(roles, roles["users"]["reporter"])
            with pytest.raises(RateLimited) as e:
                report(roles)
            assert "rate_limit" in e.value.error_dict
            # sysadmins and moderators are never limited
            report(roles, roles["users"]["editor"])
            report(roles, roles["users"]["sysadmin"])
        with test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.8"}):
            report(roles)
        from ckanext.servicespublics.issues.model import Report
        assert model.Session.query(Report).count() == 5

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.rate_limit.ip", "0")
    @pytest.mark.ckan_config("ckanext.servicespublics.issues.rate_limit.user", "2")
    def test_per_account_and_comments_count(self, roles, test_request_context):
        from ckanext.servicespublics.issues.logic.action import RateLimited

        reporter = roles["users"]["reporter"]
        with test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
            first = report(roles, reporter)
            act("servicespublics_issue_comment", reporter, id=first["id"],
                body="J'ajoute une précision : l'entrée est à l'arrière.")
            with pytest.raises(RateLimited):
                report(roles, reporter)
            with pytest.raises(RateLimited):
                act("servicespublics_issue_comment", reporter, id=first["id"],
                    body="Encore une précision.")
            # another account from the same address is not limited
            report(roles, roles["users"]["other"])

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.rate_limit.window", "600")
    def test_counters_expire(self, roles, test_request_context):
        from ckan.lib.redis import connect_to_redis

        with test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.10"}):
            report(roles, roles["users"]["reporter"])
        redis = connect_to_redis()
        keys = redis.keys("*servicespublics:issues:rate:*")
        assert {k.decode().split(":")[-3] for k in keys} == {"ip", "user"}
        for key in keys:
            assert 600 < redis.ttl(key) <= 660
            assert b"203.0.113.10" not in key  # the address itself is not kept


class TestShow:
    def test_pending_report_visibility(self, roles):
        u = roles["users"]
        created = report(roles, None, email="secret-reporter@example.net")
        rid = created["id"]
        for user in (None, u["other"], u["member"], u["other_editor"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_show", user, id=rid)
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_show", None, id=rid, token="0" * 40)
        mine = act("servicespublics_issue_show", None, id=rid, token=created["token"])
        assert mine["is_reporter"] and mine["email"] == "secret-reporter@example.net"
        for user in (u["editor"], u["admin"], u["sysadmin"]):
            shown = act("servicespublics_issue_show", user, id=rid)
            assert shown["can_moderate"] is True
            assert shown["has_email"] is True
            assert "email" not in shown
            assert "secret-reporter" not in repr(shown)
        # by number too
        assert act("servicespublics_issue_show", u["editor"],
                   id=str(created["number"]))["id"] == rid
        with pytest.raises(tk.ObjectNotFound):
            act("servicespublics_issue_show", u["editor"], id="no-such-report")

    def test_published_report_is_public_but_not_the_reporter(self, roles):
        u = roles["users"]
        created = report(roles, u["reporter"], email="private@example.net")
        act("servicespublics_issue_moderate", u["editor"], id=created["id"],
            action="publish")
        for user in (None, u["other"], u["member"]):
            shown = act("servicespublics_issue_show", user, id=created["id"])
            assert shown["moderation_state"] == "published"
            assert shown["can_moderate"] is False
            assert "email" not in shown and "reporter_name" not in shown
            assert "private@example.net" not in repr(shown)
            assert u["reporter"]["name"] not in repr(shown)
            assert "Reporter" not in repr(shown)  # the reporter's full name
        moderator_view = act("servicespublics_issue_show", u["editor"], id=created["id"])
        assert moderator_view["reporter_name"] == "Reporter"
        assert "private@example.net" not in repr(moderator_view)

    def test_private_dataset_reports(self, roles):
        u = roles["users"]
        created = report(roles, u["member"], dataset="private")
        act("servicespublics_issue_moderate", u["admin"], id=created["id"],
            action="publish")
        for user in (None, u["other"], u["other_editor"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_show", user, id=created["id"])
        assert act("servicespublics_issue_show", u["member"], id=created["id"])["id"]
        assert act("servicespublics_issue_show", u["sysadmin"], id=created["id"])["id"]
        # the dataset becomes private later: its reports follow
        public_report = report(roles, None)
        act("servicespublics_issue_moderate", u["editor"], id=public_report["id"],
            action="publish")
        assert act("servicespublics_issue_show", None, id=public_report["id"])
        helpers.call_action("package_patch", {"user": u["sysadmin"]["name"]},
                            id=roles["public"]["id"], private=True)
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_show", None, id=public_report["id"])

    def test_rejected_and_merged_reports_are_hidden(self, roles):
        u = roles["users"]
        first = report(roles, u["reporter"])
        spam = report(roles, None)
        duplicate = report(roles, u["other"])
        act("servicespublics_issue_moderate", u["editor"], id=first["id"], action="publish")
        act("servicespublics_issue_moderate", u["editor"], id=spam["id"], action="reject",
            reason="spam")
        act("servicespublics_issue_moderate", u["editor"], id=duplicate["id"],
            action="merge", merge_into=str(first["number"]))
        for rid in (spam["id"], duplicate["id"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_show", None, id=rid)
            assert act("servicespublics_issue_show", u["admin"], id=rid)
        merged = act("servicespublics_issue_show", u["other"], id=duplicate["id"])
        assert merged["moderation_state"] == "merged"
        assert merged["merged_into"]["number"] == first["number"]
        target = act("servicespublics_issue_show", None, id=first["id"])
        assert [e["action"] for e in target["history"]] == [
            "created", "published", "duplicate_merged"]
        # internal events stay with the moderators
        rejected = act("servicespublics_issue_show", u["editor"], id=spam["id"])
        assert rejected["rejection_reason"] == "spam"
        assert [e["action"] for e in rejected["history"]] == ["created", "rejected"]
        reporter_view = act("servicespublics_issue_show", None, id=spam["id"],
                            token=spam["token"])
        assert [e["action"] for e in reporter_view["history"]] == ["created"]


class TestList:
    @pytest.fixture
    def reports(self, roles):
        u = roles["users"]
        made = {
            "published": report(roles, u["reporter"], category="service_closed"),
            "published2": report(roles, None),
            "pending": report(roles, None),
            "mine_pending": report(roles, u["reporter"]),
            "private": report(roles, u["member"], dataset="private"),
            "other_org": report(roles, None, dataset="other_dataset"),
        }
        for key in ("published", "published2", "private"):
            act("servicespublics_issue_moderate", u["admin"], id=made[key]["id"],
                action="publish")
        act("servicespublics_issue_moderate", u["other_editor"],
            id=made["other_org"]["id"], action="publish")
        act("servicespublics_issue_update", u["editor"], id=made["published"]["id"],
            status="in_progress")
        return made

    @staticmethod
    def ids(result):
        return {r["id"] for r in result["results"]}

    def test_anonymous_sees_published_reports_of_visible_datasets(self, roles, reports):
        result = act("servicespublics_issue_list", None)
        assert self.ids(result) == {reports[k]["id"] for k in
                                    ("published", "published2", "other_org")}
        assert result["count"] == 3
        assert result["facets"]["status"] == {"open": 2, "in_progress": 1}
        assert set(result["facets"]["moderation_state"]) == {"published"}
        # asking for pending reports gives nothing more
        assert act("servicespublics_issue_list", None,
                   moderation_state="pending,held")["count"] == 0

    def test_reporter_sees_own_reports(self, roles, reports):
        reporter = roles["users"]["reporter"]
        mine = act("servicespublics_issue_list", reporter, mine=True)
        assert self.ids(mine) == {reports["published"]["id"], reports["mine_pending"]["id"]}
        pending = act("servicespublics_issue_list", reporter, moderation_state="pending")
        assert self.ids(pending) == {reports["mine_pending"]["id"]}
        assert act("servicespublics_issue_list", None, mine=True)["count"] == 0

    def test_moderators_see_their_organisations(self, roles, reports):
        u = roles["users"]
        queue = act("servicespublics_issue_list", u["editor"],
                    moderation_state=["pending", "held"])
        assert self.ids(queue) == {reports["pending"]["id"], reports["mine_pending"]["id"]}
        default = act("servicespublics_issue_list", u["editor"])
        assert reports["pending"]["id"] in self.ids(default)
        assert reports["private"]["id"] in self.ids(default)
        assert reports["other_org"]["id"] in self.ids(default)  # published, public
        other = act("servicespublics_issue_list", u["other_editor"],
                    moderation_state="pending")
        assert self.ids(other) == set()
        everything = act("servicespublics_issue_list", u["sysadmin"],
                         moderation_state="pending,held,published,rejected,merged")
        assert everything["count"] == 6

    def test_private_dataset_reports_are_listed_to_members_only(self, roles, reports):
        u = roles["users"]
        pid = reports["private"]["id"]
        for user in (None, u["other"], u["other_editor"]):
            assert pid not in self.ids(act("servicespublics_issue_list", user))
        assert pid in self.ids(act("servicespublics_issue_list", u["member"]))
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_list", None, package_id="plan-secret")

    def test_filters_and_paging(self, roles, reports):
        u = roles["users"]
        by_dataset = act("servicespublics_issue_list", None, package_id="gendarmeries")
        assert self.ids(by_dataset) == {reports["published"]["id"],
                                        reports["published2"]["id"]}
        by_org = act("servicespublics_issue_list", None, organization="autre-ministere")
        assert self.ids(by_org) == {reports["other_org"]["id"]}
        assert self.ids(act("servicespublics_issue_list", None, status="in_progress")) == {
            reports["published"]["id"]}
        closed = act("servicespublics_issue_list", None, category=["service_closed"])
        assert self.ids(closed) == {reports["published"]["id"]}
        assert closed["facets"]["category"]["wrong_location"] == 2
        page1 = act("servicespublics_issue_list", None, limit=2, sort="number asc")
        page2 = act("servicespublics_issue_list", None, limit=2, offset=2,
                    sort="number asc")
        assert page1["count"] == page2["count"] == 3
        assert len(page1["results"]) == 2 and len(page2["results"]) == 1
        numbers = [r["number"] for r in page1["results"] + page2["results"]]
        assert numbers == sorted(numbers)
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_list", None, status="lost")
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_list", None, sort="description")
        with pytest.raises(tk.ObjectNotFound):
            act("servicespublics_issue_list", u["editor"], organization="no-such-org")

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "loterie")
    def test_held_looks_pending_to_its_reporter(self, roles):
        reporter = roles["users"]["reporter"]
        held = report(roles, reporter, description="Gagnez à la loterie nationale !")
        mine = act("servicespublics_issue_list", reporter, mine=True)
        assert [r["moderation_state"] for r in mine["results"]] == ["pending"]
        assert "held" not in mine["facets"]["moderation_state"]
        assert act("servicespublics_issue_list", reporter,
                   moderation_state="held")["count"] == 0
        assert act("servicespublics_issue_list", roles["users"]["editor"],
                   moderation_state="held")["results"][0]["id"] == held["id"]


class TestModerate:
    def test_publish_reject_merge_and_back(self, roles):
        u = roles["users"]
        a, b, c = (report(roles, None) for _ in range(3))
        result = act("servicespublics_issue_moderate", u["editor"], id=[a["id"], b["id"]],
                     action="publish")
        assert [r["moderation_state"] for r in result["results"]] == ["published"] * 2
        act("servicespublics_issue_moderate", u["admin"], id=c["id"], action="merge",
            merge_into=a["id"], note="Même brigade")
        act("servicespublics_issue_moderate", u["admin"], id=b["id"], action="reject",
            reason="abuse")
        # a moderator can change their mind
        again = act("servicespublics_issue_moderate", u["sysadmin"], id=b["id"],
                    action="publish")["results"][0]
        assert again["moderation_state"] == "published"
        assert again["rejection_reason"] is None
        history = act("servicespublics_issue_show", u["editor"], id=b["id"])["history"]
        assert [e["action"] for e in history] == [
            "created", "published", "rejected", "published"]
        assert history[2]["data"]["reason"] == "abuse"
        assert history[1]["actor"] == "Editor"

    def test_validation(self, roles):
        u = roles["users"]
        a = report(roles, None)
        b = report(roles, None)
        other = report(roles, None, dataset="other_dataset")
        with pytest.raises(tk.ValidationError) as e:
            act("servicespublics_issue_moderate", u["editor"], id=a["id"], action="reject")
        assert "reason" in e.value.error_dict
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_moderate", u["editor"], id=a["id"], action="delete")
        with pytest.raises(tk.ValidationError) as e:
            act("servicespublics_issue_moderate", u["editor"], id=a["id"], action="merge")
        assert "merge_into" in e.value.error_dict
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_moderate", u["editor"], id=a["id"], action="merge",
                merge_into=a["id"])
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_moderate", u["sysadmin"], id=a["id"],
                action="merge", merge_into=other["id"])
        act("servicespublics_issue_moderate", u["editor"], id=b["id"], action="reject",
            reason="spam")
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_moderate", u["editor"], id=a["id"], action="merge",
                merge_into=b["id"])
        with pytest.raises(tk.ObjectNotFound):
            act("servicespublics_issue_moderate", u["editor"], id="nope", action="publish")
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_moderate", u["editor"], action="publish")

    def test_bulk_is_all_or_nothing(self, roles):
        u = roles["users"]
        mine = report(roles, None)
        theirs = report(roles, None, dataset="other_dataset")
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_moderate", u["editor"],
                id=[mine["id"], theirs["id"]], action="publish")
        shown = act("servicespublics_issue_show", u["editor"], id=mine["id"])
        assert shown["moderation_state"] == "pending"

    def test_signal(self, roles):
        received = []

        def receiver(sender, **kwargs):
            received.append((sender, kwargs["action"], kwargs["previous"]))

        signal = tk.signals.ckanext.signal("servicespublics_issue_moderated")
        signal.connect(receiver)
        try:
            created = report(roles, None)
            act("servicespublics_issue_moderate", roles["users"]["editor"],
                id=created["id"], action="publish")
        finally:
            signal.disconnect(receiver)
        assert received == [(created["id"], "publish", "pending")]


class TestUpdateAndComment:
    @pytest.fixture
    def published(self, roles):
        created = report(roles, roles["users"]["reporter"])
        act("servicespublics_issue_moderate", roles["users"]["editor"], id=created["id"],
            action="publish")
        return created

    def test_status_life(self, roles, published):
        editor = roles["users"]["editor"]
        for status in ("in_progress", "resolved", "open", "wont_fix"):
            result = act("servicespublics_issue_update", editor, id=published["id"],
                         status=status)
            assert result["status"] == status
        result = act("servicespublics_issue_update", editor, id=published["id"],
                     category="service_closed", comment="Le service a fermé en 2023.")
        changes = [(e["action"], e["data"].get("from"), e["data"].get("to"))
                   for e in result["history"] if e["action"] in ("status", "category")]
        assert changes == [("status", "open", "in_progress"),
                           ("status", "in_progress", "resolved"),
                           ("status", "resolved", "open"),
                           ("status", "open", "wont_fix"),
                           ("category", "wrong_location", "service_closed")]
        assert result["comments"][0]["author"] == "Editor"
        assert result["comments"][0]["author_role"] == "moderator"
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_update", editor, id=published["id"])
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_update", editor, id=published["id"], status="done")

    def test_only_moderators_update_published_reports(self, roles, published):
        u = roles["users"]
        for user in (None, u["reporter"], u["other"], u["member"], u["other_editor"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_update", user, id=published["id"],
                    status="resolved")
        pending = report(roles, None)
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_update", u["editor"], id=pending["id"],
                status="resolved")

    def test_comments(self, roles, published):
        u = roles["users"]
        act("servicespublics_issue_comment", u["reporter"], id=published["id"],
            body="Merci, je précise que l'entrée est rue Pasteur.")
        act("servicespublics_issue_comment", u["admin"], id=published["id"],
            body="Nous corrigeons le fichier.")
        for user in (None, u["other"], u["member"], u["other_editor"]):
            with pytest.raises(tk.NotAuthorized):
                act("servicespublics_issue_comment", user, id=published["id"], body="Moi aussi")
        shown = act("servicespublics_issue_show", None, id=published["id"])
        assert [(c["author_role"], c["author"]) for c in shown["comments"]] == [
            ("reporter", None), ("moderator", "Admin")]
        assert shown["comment_count"] == 2
        anonymous = report(roles, None)
        act("servicespublics_issue_comment", None, id=anonymous["id"],
            token=anonymous["token"], body="J'oubliais : le numéro de téléphone aussi.")
        with pytest.raises(tk.NotAuthorized):
            act("servicespublics_issue_comment", None, id=anonymous["id"],
                token="f" * 40, body="Intrus")
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_comment", u["reporter"], id=published["id"], body="")

    @pytest.mark.ckan_config("ckanext.servicespublics.issues.blocked_words", "viagra")
    def test_comment_rules(self, roles, published):
        u = roles["users"]
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_comment", u["reporter"], id=published["id"],
                body="viagra pas cher")
        act("servicespublics_issue_moderate", u["editor"], id=published["id"],
            action="reject", reason="abuse")
        with pytest.raises(tk.ValidationError):
            act("servicespublics_issue_comment", u["editor"], id=published["id"],
                body="Fermé")
