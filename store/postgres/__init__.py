"""The index in PostgreSQL with pgvector (`CITEWISE_STORE__URL=postgresql://...`): several services share it.

One ingest is one transaction; rows carry the generations they are visible in (schema.py), so a reader keeps the
state it opened on while a writer publishes the next one.
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from collections.abc import Iterator

from citewise.core.errors import CitewiseError, IndexIncompatibleError
from citewise.core.settings import SCHEMA_NAME_PATTERN

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import sql
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # the optional extra; open_store turns this into a one-line message
    raise ImportError(f"the PostgreSQL index needs psycopg, psycopg-pool and pgvector: {exc}") from exc

from citewise.store.postgres.reader import PostgresIndexReader
from citewise.store.postgres.schema import SCHEMA_VERSION, TABLE_NAMES, TABLES, redacted
from citewise.store.postgres.writer import PostgresIndexWriter

__all__ = ["PostgresIndexReader", "PostgresIndexWriter", "PostgresStore"]

# The first key of the writers' advisory lock (the second is a hash of the schema): "cw" in ASCII.
LOCK_CLASS = 0x6377
_IDENTIFIER = re.compile(SCHEMA_NAME_PATTERN)
CONNECT_TIMEOUT_S = 10


class PostgresStore:
    """An index in one schema of a PostgreSQL database with the pgvector extension."""

    def __init__(self, url: str, schema: str = "citewise", ef_search: int = 100, pool_size: int = 4) -> None:
        if not _IDENTIFIER.match(schema):
            raise CitewiseError(f"store schema {schema!r}: use lower-case letters, digits and underscores")
        self.url = url
        self.schema = schema
        self.ef_search = ef_search
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    @property
    def location(self) -> str:
        return redacted(self.url, self.schema)

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        """A new connection with this index's schema first on the search path and the vector type registered."""
        try:
            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise CitewiseError(f"cannot connect to {self.location}: {' '.join(str(exc).split())}") from None
        self._configure(conn)
        conn.autocommit = autocommit
        return conn

    def _configure(self, conn: psycopg.Connection) -> None:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege:
            raise CitewiseError(f"{self.location}: the pgvector extension is not installed and this user may not "
                                "install it (CREATE EXTENSION vector, as a superuser, once)") from None
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(self.schema)))
        # Placeholders until pgvector loads, which then takes them up. Iterative scans keep a filtered search
        # (old generations' rows, a source filter) returning k rows.
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(self.ef_search)))
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        register_vector(conn)

    def pool(self) -> ConnectionPool:
        """Readers' connections: one pool per store, so that a service that swaps readers never leaks any."""
        with self._pool_lock:
            if self._pool is None:
                self.connect().close()  # a clear one-line error now, rather than a pool timing out later
                pool = ConnectionPool(self.url, min_size=1, max_size=self.pool_size, num_workers=1,
                                      kwargs={"autocommit": True, "row_factory": dict_row},
                                      configure=self._configure, timeout=CONNECT_TIMEOUT_S, open=True,
                                      # A connection the server dropped (a restart) is replaced, not handed out.
                                      check=ConnectionPool.check_connection, name=f"citewise-{self.schema}")
                weakref.finalize(self, pool.close)
                self._pool = pool
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def current_token(self) -> str | None:
        """One indexed single-row read on a pooled connection: cheap enough to poll every second."""
        with self.pool().connection() as conn:
            try:
                row = conn.execute("SELECT token FROM state").fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        return row["token"] if row else None

    def current_meta(self) -> dict[str, str] | None:
        with self.pool().connection() as conn:
            try:
                row = conn.execute("SELECT g.meta FROM state s JOIN generations g USING (generation)").fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        return dict(row["meta"]) if row else None

    def reader(self) -> PostgresIndexReader:
        return PostgresIndexReader(self.pool(), self.location)

    def _published(self, conn: psycopg.Connection) -> tuple[int, dict[str, str]]:
        """The published generation and its meta; (0, {}) when the schema holds no index yet."""
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (f"{self.schema}.state",)).fetchone()
        if not found["found"]:
            return 0, {}
        state = conn.execute("SELECT s.generation, g.meta FROM state s JOIN generations g USING (generation)"
                             ).fetchone()
        return (state["generation"], dict(state["meta"])) if state else (0, {})

    @contextlib.contextmanager
    def writing(self, rebuild: bool = False) -> Iterator[PostgresIndexWriter]:
        conn = self.connect()
        try:
            locked = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS locked",
                                  (LOCK_CLASS, self.schema)).fetchone()
            if not locked["locked"]:
                raise CitewiseError(f"another ingest is writing {self.location}; wait for it to finish")
            conn.autocommit = False  # from here on, the whole ingest is one transaction
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            previous, meta = self._published(conn)
            if previous and meta.get("schema") != SCHEMA_VERSION:
                if not rebuild:
                    raise IndexIncompatibleError(f"the index at {self.location} has schema {meta.get('schema')!r} "
                                                 f"(now {SCHEMA_VERSION!r}); run `citewise ingest --rebuild`")
                # An older schema's tables may differ in their columns: a rebuild starts from new ones.
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(self.schema, name) for name in TABLE_NAMES)))
                previous, meta = 0, {}
            conn.execute(TABLES)
            writer = PostgresIndexWriter(conn, previous, {} if rebuild else meta)
            if rebuild:
                writer.remove_everything()
            yield writer
        finally:
            if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()  # left without publishing: the changes are abandoned
            conn.close()  # also releases the advisory lock
