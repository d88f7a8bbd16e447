"""A careful JSON client for remote portals.

Timeouts on every request; bounded retries with exponential backoff on
connection errors, timeouts, 5xx/429 answers, HTML error pages and truncated
or invalid JSON; a cap on the size of a response (read in chunks, never
trusted from Content-Length alone). Every failure ends as a
:class:`RemoteError` whose message says what happened and where, for the
harvest source page.
"""
from __future__ import annotations

import json
import logging
import random
import time
from typing import Any, Callable

import requests

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
RETRY_STATUSES = {429, 500, 502, 503, 504, 507, 508, 509}


class RemoteError(Exception):
    """A request to the remote portal failed for good (after the retries)."""

    def __init__(self, message: str, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class _Retryable(Exception):
    pass


class JsonClient:
    def __init__(
        self,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_bytes: int = 50 * 1024 * 1024,
        headers: dict | None = None,
        user_agent: str = "ckanext-servicespublics harvester",
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.max_bytes = int(max_bytes)
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": user_agent})
        if headers:
            self.session.headers.update(headers)
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def get_json(self, url: str, params: Any = None, headers: dict | None = None) -> Any:
        """GET ``url`` and return the decoded JSON body."""
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * (2 ** (attempt - 1))
                delay += random.uniform(0, self.backoff / 4 or 0)
                log.info("Retrying %s in %.2fs (%s)", url, delay, last)
                self.sleep(delay)
            try:
                return self._get_once(url, params, headers)
            except _Retryable as e:
                last = str(e)
        raise RemoteError(
            f"{last} — gave up after {self.retries + 1} attempt(s)", url=url)

    def _get_once(self, url: str, params: Any, headers: dict | None = None) -> Any:
        self.requests_made += 1
        try:
            response = self.session.get(url, params=params, headers=headers,
                                        timeout=self.timeout, stream=True,
                                        allow_redirects=True)
        except requests.Timeout:
            raise _Retryable(f"Timeout after {self.timeout:g}s on {url}")
        except requests.RequestException as e:
            raise _Retryable(f"Connection error on {url}: {e.__class__.__name__}")
        full_url = response.url
        try:
            status = response.status_code
            if status in RETRY_STATUSES:
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    self.sleep(min(float(retry_after), 60.0))
                raise _Retryable(f"HTTP {status} {response.reason or ''} on {full_url}".strip())
            if status >= 400:
                raise RemoteError(f"HTTP {status} {response.reason or ''} on {full_url}",
                                  url=full_url, status=status)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise RemoteError(
                    f"Response too large on {full_url}: {int(declared):,} bytes "
                    f"(limit {self.max_bytes:,})", url=full_url, status=status)
            chunks = []
            size = 0
            try:
                for chunk in response.iter_content(CHUNK_SIZE):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise RemoteError(
                            f"Response too large on {full_url}: more than "
                            f"{self.max_bytes:,} bytes", url=full_url, status=status)
                    chunks.append(chunk)
            except requests.RequestException as e:
                raise _Retryable(f"Truncated response on {full_url}: "
                                 f"{e.__class__.__name__}")
            body = b"".join(chunks)
        finally:
            response.close()
        content_type = response.headers.get("Content-Type", "").lower()
        head = body[:512].lstrip().lower()
        if "html" in content_type or head.startswith((b"<!doctype", b"<html", b"<")):
            raise _Retryable(f"HTML page instead of JSON on {full_url} (HTTP {status})")
        # JSON is UTF-8 unless the server says otherwise (requests guesses
        # Latin-1 for any text/* type without a charset)
        encoding = response.encoding if "charset=" in content_type else "utf-8-sig"
        try:
            return json.loads(body.decode(encoding or "utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as e:
            kind = "Truncated JSON" if _looks_truncated(body) else "Invalid JSON"
            raise _Retryable(f"{kind} on {full_url}: {e}")


def _looks_truncated(body: bytes) -> bool:
    text = body.rstrip()
    return bool(text) and text[-1:] not in (b"}", b"]")
