"""A full rebuild into a fresh table, swapped in at the end.

Solr rebuilds a whole index into a new core and swaps it in; this does the
same with the search table. Writing 100,000 documents into the live table
maintains its 18 secondary indexes row by row and runs the facet-count
triggers once per batch, with the two workers waiting on the same count
rows: more than half of PostgreSQL's work. A fresh table is loaded with
plain INSERTs, then gets every index of the live one, built once each (in
parallel, with a generous ``maintenance_work_mem``), the facet counts
computed by one grouped statement, the live table's triggers, grants and
owner, and fresh statistics. One short transaction then takes what CKAN
wrote to the live table meanwhile (the documents whose ``changed_xid`` and
the removals whose ``removed_xid`` are not older than the oldest transaction
running when the rebuild started: the change tracking the in-memory index
follows), fires the live table's TRUNCATE triggers (on an empty
stand-in) so that what they keep learns that every document was replaced
(the kept counts, any log of removals that readers follow), puts the new
table in place under the live table's name and renames its indexes to the
names the migrations gave them; the old table is dropped after the commit.

Everything about the live table is read from the catalogues (columns,
defaults, storage, options, indexes, constraints, triggers, privileges), so
a migration that adds an index, a column or a trigger needs no change here.
What cannot be carried over (views, foreign keys from other tables, rules,
row security, inheritance, publications) stops the rebuild before it starts,
with a message.

Until the swap, searches and CKAN's writes go to the live table as usual; a
rebuild that fails or is interrupted drops what it built and leaves the live
table as it was.
"""
from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import sqlalchemy as sa

from ckan.common import config
from ckan.lib.search.common import SearchIndexError
from ckan.model import meta

from .backend import COUNTED_COLUMNS
from .fields import ARRAY_COLUMNS, BUCKET_COLUMNS, COUNTS_TABLE, REMOVAL_TABLE, TABLE
from .memindex import MAX_IDLE

log = logging.getLogger(__name__)

#: the table being built
NEW_TABLE = f"{TABLE}_rebuild"
#: the replaced table, dropped once the swap is committed
OLD_TABLE = f"{TABLE}_rebuild_old"
#: prefix of its indexes' names, which the new table's take
OLD_INDEX_PREFIX = "servicespublics_search_rebuild_old_"
#: an empty temporary stand-in for the live table, truncated at the swap
STAND_IN = "servicespublics_search_rebuild_truncated"
#: the facet counts of the new table, copied into the kept counts at the swap
NEW_COUNTS = f"{COUNTS_TABLE}_rebuild"
#: prefix of the new table's indexes until they take the live ones' names
INDEX_PREFIX = "servicespublics_search_rebuild_idx_"
#: one full rebuild at a time (session advisory lock key)
_LOCK_KEY = "servicespublics_search_rebuild"
#: attempts and wait of the swap's lock on the live table: while it waits,
#: searches queue behind it, so it gives up quickly and tries again
_SWAP_ATTEMPTS = 20
_SWAP_LOCK_TIMEOUT = "2s"
#: the longest a rebuild may take: the removal log keeps a day of history,
#: and what the in-memory index allows itself is kept for the rebuild too
_MAX_SECONDS = MAX_IDLE

_INDEXDEF = re.compile(
    r"^CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?(\S+) (USING .*)$", re.S)
_TRIGGERDEF = re.compile(
    r"^(CREATE (?:CONSTRAINT )?TRIGGER \S+ .*? ON )(\S+)( .*)$", re.S)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class FreshTable:
    """The new search table of one full rebuild, from creation to swap.

    Holds its own connection (in autocommit mode) for the whole rebuild,
    with a session advisory lock so that two full rebuilds never build the
    same table; the rebuild's workers load the table through their own
    sessions (:func:`backend.write_rows` with ``table=NEW_TABLE``).
    """

    name = NEW_TABLE

    def __init__(self) -> None:
        self.conn: Optional[sa.engine.Connection] = None
        self.live_oid: Optional[int] = None
        self.schema = ""
        self.columns: list[str] = []
        #: the oldest transaction running when the rebuild started: what it
        #: and younger ones wrote to the live table is carried over
        self.horizon = "0"
        self.started = 0.0
        #: (live name, definition, constraint type, name on the new table)
        self.indexes: list[tuple[str, str, Optional[str], str]] = []
        #: autovacuum is off on the new table while it is loaded
        self._autovacuum_off = False

    # -- helpers ------------------------------------------------------------
    def _q(self, sql: str, params: Optional[dict[str, Any]] = None) -> Any:
        assert self.conn is not None
        return self.conn.execute(sa.text(sql), params or {})

    def _fail(self, message: str) -> SearchIndexError:
        return SearchIndexError(f"Search index rebuild: {message}")

    # -- start ----------------------------------------------------------------
    def start(self) -> None:
        """Check the live table, note where its changes start and create
        the new table."""
        self.conn = meta.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT")
        try:
            got = self._q("SELECT pg_try_advisory_lock(hashtext(:k))",
                          {"k": _LOCK_KEY}).scalar()
            if not got:
                raise self._fail("another full rebuild is running")
            self._drop_work_tables()
            self._inspect()
            self._create()
        except BaseException:
            self.close()
            raise

    def _inspect(self) -> None:
        row = self._q(
            "SELECT c.oid, n.nspname, c.relkind, c.relrowsecurity, "
            "c.relispartition FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(:t)", {"t": TABLE}).one_or_none()
        if row is None:
            raise self._fail(f"the table {TABLE} does not exist: run `ckan db upgrade`")
        oid, self.schema, relkind, rls, partition = row
        self.live_oid = oid
        if relkind != "r" or partition:
            raise self._fail(f"{TABLE} is not a plain table")
        # what refers to the table by its identity would be lost or left
        # pointing at the dropped table: refuse rather than break it
        problems = []
        views = self._q(
            "SELECT DISTINCT v.oid::regclass::text FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass "
            "JOIN pg_class v ON v.oid = r.ev_class "
            "WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = :o "
            "AND v.oid <> :o", {"o": oid}).scalars().all()
        if views:
            problems.append(f"views depend on it ({', '.join(views)})")
        rules = self._q("SELECT count(*) FROM pg_rewrite WHERE ev_class = :o",
                        {"o": oid}).scalar()
        if rules:
            problems.append("it has rules")
        refs = self._q(
            "SELECT conname || ' on ' || conrelid::regclass::text FROM pg_constraint "
            "WHERE confrelid = :o AND conrelid <> :o", {"o": oid}).scalars().all()
        if refs:
            problems.append(f"foreign keys refer to it ({', '.join(refs)})")
        if rls or self._q("SELECT count(*) FROM pg_policy WHERE polrelid = :o",
                          {"o": oid}).scalar():
            problems.append("it has row security policies")
        if self._q("SELECT count(*) FROM pg_inherits WHERE inhrelid = :o "
                   "OR inhparent = :o", {"o": oid}).scalar():
            problems.append("it takes part in inheritance")
        if self._q("SELECT count(*) FROM pg_publication_rel WHERE prrelid = :o",
                   {"o": oid}).scalar():
            problems.append("it is in a publication")
        if self._q("SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = :o",
                   {"o": oid}).scalar():
            problems.append("it has extended statistics")
        excl = self._q("SELECT count(*) FROM pg_constraint WHERE conrelid = :o "
                       "AND contype = 'x'", {"o": oid}).scalar()
        if excl:
            problems.append("it has exclusion constraints")
        if problems:
            raise self._fail(
                f"cannot rebuild {TABLE} into a fresh table: {'; '.join(problems)}. "
                "Rebuild it in place with `ckan search-index rebuild --only-missing` "
                "after clearing it, or remove those objects.")
        self.columns = self._q(
            "SELECT attname FROM pg_attribute WHERE attrelid = :o AND attnum > 0 "
            "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            {"o": oid}).scalars().all()
        key = self._q(
            "SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) "
            "WITH ORDINALITY k(attnum, n) ON true JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = :o AND i.indisprimary ORDER BY k.n",
            {"o": oid}).scalars().all()
        tracked = "changed_xid" in self.columns and self._q(
            "SELECT to_regclass(:t) IS NOT NULL", {"t": REMOVAL_TABLE}).scalar()
        if key != ["index_id"] or not tracked:
            raise self._fail(f"{TABLE} is not as the search migrations make it "
                             "(primary key index_id, changed_xid, the removal log): "
                             "run `ckan db upgrade`")

    def _create(self) -> None:
        live = _ident(TABLE)
        started = time.monotonic()
        # every transaction older than the oldest one running now has
        # finished: the datasets, listed after this, show what it wrote
        self.horizon = self._q(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text").scalar()
        self.started = started
        options = self._q("SELECT reloptions FROM pg_class WHERE oid = :o",
                          {"o": self.live_oid}).scalar()
        options = list(options or [])
        # no autovacuum while the workers load it: it is vacuumed and
        # analysed once loaded
        if not any(o.startswith("autovacuum_enabled=") for o in options):
            options.append("autovacuum_enabled=false")
            self._autovacuum_off = True
        with_options = f" WITH ({', '.join(options)})"
        self._q(f"""CREATE TABLE {NEW_TABLE} (LIKE {live} INCLUDING DEFAULTS
            INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY
            INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)
            {with_options}""")
        self._copy_privileges()
        log.info("Fresh search table %s created in %.1f s", NEW_TABLE,
                 time.monotonic() - started)

    def _copy_privileges(self) -> None:
        owner, current = self._q(
            "SELECT pg_get_userbyid(relowner), current_user FROM pg_class "
            "WHERE oid = :o", {"o": self.live_oid}).one()
        if owner != current:
            self._q(f"ALTER TABLE {NEW_TABLE} OWNER TO {_ident(owner)}")
        # the table's grants (but the owner's own), then its columns'
        grants = self._q(
            "SELECT g.col, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, "
            "a.is_grantable FROM ("
            "  SELECT NULL AS col, c.relacl AS acl, c.relowner AS skip FROM pg_class c "
            "  WHERE c.oid = :o "
            "  UNION ALL SELECT quote_ident(t.attname), t.attacl, NULL "
            "  FROM pg_attribute t WHERE t.attrelid = :o AND t.attacl IS NOT NULL"
            ") g, aclexplode(g.acl) a WHERE a.grantee IS DISTINCT FROM g.skip",
            {"o": self.live_oid})
        for column, grantee, privilege, grantable in grants.all():
            on = f"({column}) " if column else ""
            option = " WITH GRANT OPTION" if grantable else ""
            self._q(f"GRANT {privilege} {on}ON {NEW_TABLE} TO {grantee}{option}")

    def copy_other_sites(self, site_id: str) -> None:
        """Documents of other sites sharing the table are not rebuilt by
        this one: take them as they are."""
        columns = ", ".join(_ident(c) for c in self.columns)
        n = self._q(f"INSERT INTO {NEW_TABLE} ({columns}) SELECT {columns} "
                    f"FROM {_ident(TABLE)} WHERE site_id <> :s", {"s": site_id}).rowcount
        if n:
            log.info("Kept %d documents of other sites", n)

    # -- after the load -------------------------------------------------------
    def finish(self, workers: int, failed: list[str], site_id: str) -> None:
        """Indexes, counts, statistics, then the swap."""
        started = time.monotonic()
        # the visibility map (index-only scans on the covering index), before
        # any index exists so that it scans the table only
        self._q(f"VACUUM {NEW_TABLE}")
        log.info("Fresh table vacuumed in %.1f s", time.monotonic() - started)
        self._build_indexes(max(1, workers))
        self._q(f"ANALYZE {NEW_TABLE}")
        if self._autovacuum_off:
            self._q(f"ALTER TABLE {NEW_TABLE} RESET (autovacuum_enabled)")
        self._swap(failed, site_id)
        log.info("Indexes, counts and swap in %.1f s", time.monotonic() - started)

    def _indexes(self) -> list[tuple[str, str, Optional[str], str]]:
        """(name, definition on the new table, constraint type, new name)
        of each index of the live table, largest first."""
        rows = self._q(
            "SELECT c.relname, pg_get_indexdef(c.oid), k.contype, k.conname, "
            "am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam "
            "LEFT JOIN pg_constraint k ON k.conindid = c.oid AND k.conrelid = i.indrelid "
            "WHERE i.indrelid = :o ORDER BY pg_relation_size(c.oid) DESC, c.relname",
            {"o": self.live_oid}).all()
        live_names = {_ident(TABLE), f"{_ident(self.schema)}.{_ident(TABLE)}",
                      TABLE, f"{self.schema}.{TABLE}"}
        out = []
        for n, (name, definition, contype, conname, _am) in enumerate(rows):
            match = _INDEXDEF.match(definition)
            if not match or match.group(4) not in live_names:
                raise self._fail(f"cannot read the definition of index {name}: "
                                 f"{definition}")
            if contype not in (None, "p", "u"):
                raise self._fail(f"cannot carry over constraint {conname}")
            if contype is not None and conname != name:
                raise self._fail(f"constraint {conname} and its index {name} "
                                 "have different names")
            new_name = f"{INDEX_PREFIX}{n}"
            sql = (f"CREATE {match.group(1) or ''}INDEX {new_name} ON {NEW_TABLE} "
                   f"{match.group(5)}")
            out.append((name, sql, contype, new_name))
        return out

    def _build_indexes(self, workers: int) -> None:
        indexes = self._indexes()
        budget = config.get("ckanext.servicespublics.search.rebuild_maintenance_work_mem")
        started = time.monotonic()

        # with several builds at once, each already has a core: no parallel
        # workers on top (only B-tree builds use them); alone, the server's
        # setting applies
        parallel = "0" if workers > 1 else None

        def build(sql: str) -> None:
            with meta.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(
                    "SELECT set_config('maintenance_work_mem', :m, false), "
                    "set_config('max_parallel_maintenance_workers', "
                    "coalesce(:p, current_setting('max_parallel_maintenance_workers')), "
                    "false)"), {"m": budget, "p": parallel})
                t0 = time.monotonic()
                conn.execute(sa.text(sql))
                log.debug("%.1f s: %s", time.monotonic() - t0, sql)

        def counts() -> None:
            with meta.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(
                    f"CREATE UNLOGGED TABLE {NEW_COUNTS} "
                    f"(LIKE {_ident(COUNTS_TABLE)} INCLUDING DEFAULTS)"))
                conn.execute(sa.text(_count_sql(NEW_TABLE, NEW_COUNTS)))

        # one index per core at a time (GIN and GiST builds use one process
        # each), the biggest first; the counts read the table meanwhile
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(counts)]
            futures += [pool.submit(build, sql) for _, sql, _, _ in indexes]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # the builds not started yet are not worth waiting for
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        # the primary key and unique constraints, on the indexes just built
        kinds = {"p": "PRIMARY KEY", "u": "UNIQUE"}
        for _name, _sql, contype, new_name in indexes:
            if contype in kinds:
                self._q(f"ALTER TABLE {NEW_TABLE} ADD CONSTRAINT {new_name} "
                        f"{kinds[contype]} USING INDEX {new_name}")
        log.info("%d indexes and the facet counts built in %.1f s", len(indexes),
                 time.monotonic() - started)
        self.indexes = indexes

    # -- swap -----------------------------------------------------------------
    def _triggers(self, target: str = NEW_TABLE, truncate_only: bool = False) -> list[str]:
        """The live table's triggers, created on
        ``target``; with ``truncate_only``, those that fire on TRUNCATE."""
        rows = self._q(
            "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger "
            "WHERE tgrelid = :o AND NOT tgisinternal "
            "AND (NOT :t OR tgtype & 32 <> 0) ORDER BY tgname",
            {"o": self.live_oid, "t": truncate_only}).all()
        out = []
        live_names = {_ident(TABLE), f"{_ident(self.schema)}.{_ident(TABLE)}",
                      TABLE, f"{self.schema}.{TABLE}"}
        for name, definition, enabled in rows:
            match = _TRIGGERDEF.match(definition)
            if not match or match.group(2) not in live_names:
                raise self._fail(f"cannot read the definition of trigger {name}: "
                                 f"{definition}")
            out.append(f"{match.group(1)}{target}{match.group(3)}")
            state = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}
            if enabled in state:
                out.append(f"ALTER TABLE {target} {state[enabled]} TRIGGER "
                           f"{_ident(name)}")
        return out

    def _swap(self, failed: list[str], site_id: str) -> None:
        triggers = self._triggers()
        truncate_triggers = self._triggers(STAND_IN, truncate_only=True)
        for attempt in range(1, _SWAP_ATTEMPTS + 1):
            try:
                self._swap_once(triggers, truncate_triggers, failed, site_id)
                return
            except sa.exc.OperationalError as e:
                if "lock timeout" not in str(e.orig) or attempt == _SWAP_ATTEMPTS:
                    raise
                log.info("The search table is busy; swap attempt %d", attempt + 1)
                time.sleep(0.5)

    def _swap_once(self, triggers: list[str], truncate_triggers: list[str],
                   failed: list[str], site_id: str) -> None:
        live = _ident(TABLE)
        counts = _ident(COUNTS_TABLE)
        columns = [_ident(c) for c in self.columns]
        cols = ", ".join(columns)
        removal = _ident(REMOVAL_TABLE)
        since = {"h": self.horizon}
        started = time.monotonic()
        if started - self.started > _MAX_SECONDS:
            raise self._fail(f"it took more than {_MAX_SECONDS // 3600} hours, longer "
                             "than the log of removed documents is kept: run it again")
        # a transaction of its own (the rebuild's connection is in autocommit)
        with meta.engine.connect() as conn, conn.begin():
            def q(sql: str, params: Optional[dict[str, Any]] = None) -> Any:
                return conn.execute(sa.text(sql), params or {})

            q(f"SET LOCAL lock_timeout = '{_SWAP_LOCK_TIMEOUT}'")
            # no reads either from here on: the table is renamed below
            q(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
            q("SET LOCAL lock_timeout = 0")
            locked = time.monotonic()
            # what CKAN wrote to the live table since the rebuild started
            # (and, with --force, the documents of datasets that failed,
            # which keep them as when rebuilding in place), and what it
            # removed from it, through the indexes on the transaction ids
            if q(f"SELECT EXISTS (SELECT 1 FROM {removal} WHERE index_id = '*' "
                 "AND removed_xid >= CAST(:h AS xid8))", since).scalar():
                raise self._fail(f"{TABLE} was truncated during the rebuild: run "
                                 "the rebuild again")
            q(f"CREATE TEMP TABLE servicespublics_search_carried ON COMMIT DROP AS "
              f"SELECT {cols} FROM {live} WHERE changed_xid >= CAST(:h AS xid8)", since)
            if failed:
                q(f"INSERT INTO servicespublics_search_carried SELECT {cols} FROM {live} "
                  f"WHERE id = ANY(:ids) AND site_id = :s "
                  f"AND changed_xid < CAST(:h AS xid8)",
                  dict(since, ids=failed, s=site_id))
            q(f"CREATE TEMP TABLE servicespublics_search_removed ON COMMIT DROP AS "
              f"SELECT DISTINCT r.index_id FROM {removal} r "
              f"WHERE r.removed_xid >= CAST(:h AS xid8) AND NOT EXISTS "
              f"(SELECT 1 FROM {live} l WHERE l.index_id = r.index_id)", since)
            # the live table's TRUNCATE triggers fire as if it were emptied
            # (the kept counts are emptied, a log of removals that readers
            # follow records it), on an empty stand-in: truncating the table
            # itself would unlink its files in this commit, 0.8 s for
            # 900 MB on the bench catalogue, while searches wait
            q(f"CREATE TEMP TABLE {STAND_IN} (LIKE {live}) ON COMMIT DROP")
            for sql in truncate_triggers:
                q(sql)
            q(f"TRUNCATE {STAND_IN}")
            # the new table's counts, then its triggers keep them while it
            # takes the changes made meanwhile
            q(f"DELETE FROM {counts}")
            q(f"INSERT INTO {counts} SELECT * FROM {NEW_COUNTS}")
            for sql in triggers:
                q(sql)
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns
                                if c != '"index_id"')
            written = q(
                f"INSERT INTO {NEW_TABLE} ({cols}) "
                f"SELECT {cols} FROM servicespublics_search_carried "
                f"ON CONFLICT (index_id) DO UPDATE SET {updates}").rowcount
            removed = q(
                f"DELETE FROM {NEW_TABLE} WHERE index_id IN "
                f"(SELECT index_id FROM servicespublics_search_removed)").rowcount
            # sequences owned by the live table's columns must survive it
            for seq, column in q(
                    "SELECT d.objid::regclass::text, a.attname FROM pg_depend d "
                    "JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S' "
                    "JOIN pg_attribute a ON a.attrelid = d.refobjid "
                    "AND a.attnum = d.refobjsubid "
                    "WHERE d.classid = 'pg_class'::regclass AND d.refobjid = :o "
                    "AND d.deptype = 'a' AND d.refobjsubid > 0",
                    {"o": self.live_oid}).all():
                q(f"ALTER SEQUENCE {seq} OWNED BY {NEW_TABLE}.{_ident(column)}")
            # the old table steps aside (dropped after the commit, outside
            # the lock) and the new one takes its names; renaming an index
            # renames the constraint it carries, too
            q(f"ALTER TABLE {live} RENAME TO {OLD_TABLE}")
            for n, (name, _sql, _contype, _new_name) in enumerate(self.indexes):
                q(f"ALTER INDEX {_ident(name)} RENAME TO {OLD_INDEX_PREFIX}{n}")
            q(f"ALTER TABLE {NEW_TABLE} RENAME TO {live}")
            for name, _sql, _contype, new_name in self.indexes:
                q(f"ALTER INDEX {new_name} RENAME TO {_ident(name)}")
            committing = time.monotonic()
        done = time.monotonic()
        log.info("Swapped in the new search table: lock after %.2f s, held "
                 "%.2f s, of which commit %.2f s (carried over: %d documents "
                 "written and %d removed during the rebuild)", locked - started,
                 done - locked, done - committing, written, removed)
        self.live_oid = None

    # -- end ------------------------------------------------------------------
    def _drop_work_tables(self) -> None:
        for table in (NEW_TABLE, NEW_COUNTS, OLD_TABLE):
            self._q(f"DROP TABLE IF EXISTS {table}")

    def close(self) -> None:
        """Drop whatever the rebuild built (the new table too, unless it
        was swapped in) and give the connection back."""
        if self.conn is None:
            return
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            self._drop_work_tables()
            self._q("SELECT pg_advisory_unlock(hashtext(:k))", {"k": _LOCK_KEY})
        finally:
            self.conn.close()
            self.conn = None


def _count_sql(source: str, target: str) -> str:
    """The kept facet counts of every document of ``source``, in one
    grouped statement: per bucket, the number of documents (field ``''``)
    and of documents with each value of each counted field (distinct values
    of an array), as the triggers of the search table keep them."""
    arrays = set(ARRAY_COLUMNS.values())
    values = ["SELECT '' AS field, '' AS value"]
    for column in COUNTED_COLUMNS:
        if column in arrays:
            values.append(f"SELECT DISTINCT '{column}', v FROM unnest(x.{column}) v")
        else:
            values.append(f"SELECT '{column}', x.{column}")
    bucket = ", ".join(f"x.{c}" for c in BUCKET_COLUMNS)
    names = ", ".join(BUCKET_COLUMNS)
    return f"""
    INSERT INTO {target} ({names}, field, value, n)
    SELECT {bucket}, f.field, f.value, count(*)
    FROM {source} x,
         LATERAL ({" UNION ALL ".join(f"({v})" for v in values)}) f
    WHERE f.field = '' OR f.value <> ''
    GROUP BY {bucket}, f.field, f.value"""
