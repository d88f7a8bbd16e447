"""Spam and abuse checks for reports and comments.

Cheap heuristics only: a limit on links, a configurable word list, a language
check (the share of common French/English words) and rate limits per IP
address and per account, counted in Redis. Suspicious texts are *held* for
moderation rather than refused; too many links or too many messages are
refused.
"""
from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from typing import Optional

import ckan.plugins.toolkit as tk
from ckan.lib.redis import connect_to_redis

__all__ = ["count_links", "blocked_words_in", "looks_like_french_or_english",
           "suspicion_reasons", "hit_rate_limit", "hash_ip", "client_ip"]

_LINK = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

_STOP_WORDS = frozenset("""
a à au aux avec ce ces cet cette dans de des du elle en est et il ils je la
le les leur leurs lui ma mais me même mes moi mon ne nos notre nous on ou où
par pas pour qu que qui sa se ses son sont sur ta te tes toi ton tu un une vos
votre vous y été être avoir fait plus ici bien aussi très tout tous toutes
depuis sans sous entre chez comme si non oui ont était sera peut rue
l d c j n s qu' est-ce
the of and to in is it that for on are was with as be this by at or from
an not but have has had were which there their they you we he she his her
its our no yes can will would should been if do does did so than then here
also very all any some into about after before when where what who how
""".split())


def _plain(text: str) -> str:
    """Lower case, without accents."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def count_links(text: str) -> int:
    return len(_LINK.findall(text or ""))


def blocked_words_in(text: str) -> list[str]:
    """The configured blocked words found in the text (whole words, case and
    accents ignored)."""
    words = [w for w in tk.config.get("ckanext.servicespublics.issues.blocked_words")
             if w]
    if not words:
        return []
    plain = _plain(text or "")
    found = []
    for word in words:
        if re.search(r"(?<!\w)" + re.escape(_plain(word)) + r"(?!\w)", plain):
            found.append(word)
    return found


def looks_like_french_or_english(text: str) -> bool:
    """Whether enough of the text's words are common French or English words.

    Short texts (fewer than ``language_min_words`` words) always pass.
    """
    words = [w.replace("’", "'") for w in _WORD.findall(_LINK.sub(" ", text or ""))]
    min_words = tk.config.get("ckanext.servicespublics.issues.language_min_words")
    if len(words) < max(min_words, 1):
        return True
    hits = 0
    for word in words:
        lower = word.casefold()
        head = lower.split("'", 1)[0]
        if lower in _STOP_WORDS or head in _STOP_WORDS:
            hits += 1
    percent = tk.config.get("ckanext.servicespublics.issues.language_min_percent")
    return hits * 100 >= percent * len(words)


def suspicion_reasons(text: str) -> list[str]:
    """Why a text should be held for moderation (empty: not suspicious)."""
    reasons = []
    if blocked_words_in(text):
        reasons.append("blocked_words")
    if (tk.config.get("ckanext.servicespublics.issues.language_check")
            and not looks_like_french_or_english(text)):
        reasons.append("language")
    return reasons


def client_ip() -> Optional[str]:
    """The address of the client of the current request (None outside a
    request). Behind ``proxy_count`` reverse proxies, it is read from the
    ``X-Forwarded-For`` header they add."""
    import flask

    if not flask.has_request_context():
        return None
    request = flask.request
    hops = tk.config.get("ckanext.servicespublics.issues.proxy_count")
    if hops:
        forwarded = [part.strip() for part in
                     request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr


def hash_ip(ip: Optional[str]) -> Optional[str]:
    """A keyed hash of an IP address: enough to count and to purge, without
    keeping the address."""
    if not ip:
        return None
    secret = tk.config.get("SECRET_KEY") or tk.config.get("beaker.session.secret") or ""
    return hashlib.sha256(f"{secret}:{ip}".encode()).hexdigest()[:32]


def hit_rate_limit(ip: Optional[str], user_id: Optional[str]) -> Optional[str]:
    """Count one message for this IP address and account.

    :returns: ``"ip"`` or ``"user"`` when that limit is exceeded (the message
        must be refused), else None.
    """
    window = tk.config.get("ckanext.servicespublics.issues.rate_limit.window") or 3600
    bucket = int(time.time()) // window
    site = tk.config.get("ckan.site_id")
    checks = []
    ip_limit = tk.config.get("ckanext.servicespublics.issues.rate_limit.ip")
    if ip and ip_limit:
        checks.append(("ip", hash_ip(ip), ip_limit))
    user_limit = tk.config.get("ckanext.servicespublics.issues.rate_limit.user")
    if user_id and user_limit:
        checks.append(("user", user_id, user_limit))
    if not checks:
        return None
    redis = connect_to_redis()
    exceeded = None
    for kind, who, limit in checks:
        key = f"{site}:servicespublics:issues:rate:{kind}:{who}:{bucket}"
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 60)
        count = pipe.execute()[0]
        if count > limit and exceeded is None:
            exceeded = kind
    return exceeded
