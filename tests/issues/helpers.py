"""Helpers of the issue-report tests."""
from __future__ import annotations

from typing import Any, Optional

import ckan.plugins.toolkit as tk


def act(action: str, user: Optional[dict[str, Any]] = None, /, **data: Any) -> Any:
    """Call an action as ``user`` (None: a visitor who is not signed in),
    with its authorisation (unlike ``ckan.tests.helpers.call_action``)."""
    context = {"user": user["name"] if user else "", "ignore_auth": False}
    return tk.get_action(action)(context, data)
