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


_MISSING = object()


class ReadAhead:
    """JSON documents read before they are needed, by a few threads.

    The runner knows in which order its harvest objects will be fetched:
    ``schedule`` gives their keys and addresses in that order, and ``take``
    returns a document when its turn comes, the next ones being read
    meanwhile (``window`` of them at most in flight). A document that could
    not be read is no error here: ``take`` then answers ``MISSING`` and the
    caller reads it itself, with the usual retries and error reporting. Each
    thread has its own client, without retries (the caller's job).
    """

    MISSING = _MISSING

    def __init__(self, settings: dict, threads: int = 4, window: int = 16):
        import collections
        import concurrent.futures
        import threading

        self.settings = dict(settings, retries=0)
        self.window = max(1, window)
        self.pending: collections.deque = collections.deque()
        self.running: dict[Any, tuple[str, Any]] = {}  # in the order of use
        self.local = threading.local()
        self.clients: list[JsonClient] = []
        self.lock = threading.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="harvest-read-ahead")

    def schedule(self, items) -> None:
        """``(key, url)`` pairs, in the order they will be taken."""
        self.pending.extend(items)
        self._fill()

    def take(self, key, url: str) -> Any:
        """The document read for ``key`` at ``url``, or ``MISSING``. Keys
        scheduled before it and not taken are dropped."""
        if key not in self.running:
            if all(k != key for k, _ in self.pending):
                return _MISSING
            self._drop_running()
            while self.pending[0][0] != key:
                self.pending.popleft()
            self._fill()
        while next(iter(self.running)) != key:
            self._drop_first()
        scheduled, future = self.running.pop(key)
        self._fill()
        try:
            data = future.result()
        except Exception:
            return _MISSING
        return data if scheduled == url else _MISSING

    def close(self) -> None:
        self.pending.clear()
        self._drop_running()
        self.pool.shutdown(wait=True)
        for client in self.clients:
            client.close()

    def _fill(self) -> None:
        while self.pending and len(self.running) < self.window:
            key, url = self.pending.popleft()
            self.running[key] = (url, self.pool.submit(self._read, url))

    def _read(self, url: str) -> Any:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = JsonClient(**self.settings)
            with self.lock:
                self.clients.append(client)
        return client.get_json(url)

    def _drop_first(self) -> None:
        key = next(iter(self.running))
        self.running.pop(key)[1].cancel()

    def _drop_running(self) -> None:
        while self.running:
            self._drop_first()
