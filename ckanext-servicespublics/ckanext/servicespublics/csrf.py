"""CSRF protection that a request signed by a token cannot switch off for others.

CKAN 2.12 skips the CSRF check for requests identified by an
``Authorization`` header, and for anonymous ones (``g.login_via_auth_header``,
``ckan/config/middleware/flask_app.py``). It does so by calling
``csrf.exempt(view)``, which flask-wtf keeps for the life of the process: after
one anonymous or token request to a view (``POST /dataset/edit/<id>`` answered
403, say), every later request to that view goes unchecked, including those of
signed-in users authenticated by their session cookie, which is exactly what a
cross-site request forgery uses.

:func:`enforce` runs after flask-wtf's own check. For a request authenticated
by the session cookie, it checks the token whenever the view is in flask-wtf's
exempted views. Neither CKAN nor the extensions of this site exempt a view by
code (whole blueprints exempted by code, ``csrf.exempt(blueprint)``, are kept
apart by flask-wtf and left alone); and a request without a session cookie,
such as a webhook, is never checked here.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, g, request

#: what CKAN sets when it exempts a request (anonymous, or an API token)
_EXEMPTED_BY_REQUEST = "login_via_auth_header"


def install(app: Any) -> None:
    """Add the check to a Flask application built by CKAN (``IMiddleware``)."""
    if not hasattr(app, "before_request") or getattr(app, "_servicespublics_csrf", False):
        return
    app._servicespublics_csrf = True
    app.before_request(enforce)


def enforce() -> None:
    from ckan.config.middleware.flask_app import csrf

    app = current_app
    if not app.config.get("WTF_CSRF_ENABLED"):
        return
    if request.method not in app.config.get("WTF_CSRF_METHODS",
                                            {"POST", "PUT", "PATCH", "DELETE"}):
        return
    if g.get(_EXEMPTED_BY_REQUEST):
        return  # CKAN's rule for this request: anonymous or signed by a token
    view = app.view_functions.get(request.endpoint or "")
    if view is None:
        return
    if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
        csrf.protect()  # raises CSRFError (400) without a valid token
