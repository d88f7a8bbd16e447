"""Sysadmin pages: public agents, who can see a dataset, what a user can see."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

import ckan.plugins.toolkit as tk
from ckan.types import Context

__all__ = ["servicespublics_access"]

servicespublics_access = Blueprint("servicespublics_access", __name__)


def _context() -> Context:
    return {}


def _call(action: str, data_dict: dict[str, Any]) -> Any:
    try:
        return tk.get_action(action)(_context(), data_dict)
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only sysadmins can see who has access to data"))


def admin() -> Any:
    try:
        tk.check_access("servicespublics_access_agent_list", _context(), {})
    except tk.NotAuthorized:
        return tk.abort(403, tk._("Only sysadmins can see who has access to data"))
    args = tk.request.args
    not_found = ""
    if args.get("dataset", "").strip():
        dataset = args["dataset"].strip()
        try:
            _call("servicespublics_access_dataset_viewers", {"id": dataset})
            return tk.redirect_to("servicespublics_access.dataset_viewers", id=dataset)
        except tk.ObjectNotFound:
            not_found = tk._("Dataset not found")
    if args.get("user", "").strip():
        user = args["user"].strip()
        try:
            _call("servicespublics_access_agent_show", {"id": user})
            return tk.redirect_to("servicespublics_access.user_datasets", id=user)
        except tk.ObjectNotFound:
            not_found = tk._("User not found")
    q = args.get("q", "").strip()
    agents = _call("servicespublics_access_agent_list", {"q": q, "limit": 200})
    return tk.render("servicespublics_access/admin.html", {
        "agents": agents, "q": q, "not_found": not_found,
        "dataset_query": args.get("dataset", ""), "user_query": args.get("user", ""),
    })


def dataset_viewers(id: str) -> Any:
    try:
        viewers = _call("servicespublics_access_dataset_viewers", {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("Dataset not found"))
    pkg_dict = tk.get_action("package_show")(_context(), {"id": viewers["id"]})
    return tk.render("servicespublics_access/dataset_viewers.html",
                     {"viewers": viewers, "pkg_dict": pkg_dict})


def user_datasets(id: str) -> Any:
    try:
        result = _call("servicespublics_access_user_datasets", {"id": id, "rows": 500})
        status = _call("servicespublics_access_agent_show", {"id": id})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("User not found"))
    return tk.render("servicespublics_access/user_datasets.html",
                     {"result": result, "status": status})


def agent_set(id: str) -> Any:
    agent = tk.request.form.get("agent", "")
    try:
        status = _call("servicespublics_access_agent_set", {"id": id, "agent": agent})
    except tk.ObjectNotFound:
        return tk.abort(404, tk._("User not found"))
    except tk.ValidationError:
        return tk.abort(400, tk._("Invalid request"))
    if status["flagged"]:
        tk.h.flash_success(tk._("%(user)s is marked as a public agent")
                           % {"user": status["display_name"]})
    else:
        tk.h.flash_success(tk._("%(user)s is no longer marked as a public agent")
                           % {"user": status["display_name"]})
    if tk.request.form.get("came_from") == "admin":
        return tk.redirect_to("servicespublics_access.admin")
    return tk.redirect_to("user.read", id=status["name"])


servicespublics_access.add_url_rule("/ckan-admin/access", view_func=admin)
servicespublics_access.add_url_rule("/dataset/<id>/access", view_func=dataset_viewers)
servicespublics_access.add_url_rule("/user/<id>/access", view_func=user_datasets)
servicespublics_access.add_url_rule("/user/<id>/access/agent", view_func=agent_set,
                                    methods=["POST"])
