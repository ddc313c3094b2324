"""FreeTDS's certificate check, which only its configuration file can turn on.

FreeTDS checks the server's certificate (its chain, and that it names the host) only when
``ca file`` is set, and reads that setting only from a section of freetds.conf: its ODBC driver
has no connection-string word for it, and a connection made with ``SERVER=`` reads no section at
all (both tried with FreeTDS 1.3 against the served simulator's TLS:
tests/integration/test_tls.py). A target with ``ca_file`` is therefore reached through a section
this module writes, ``Servername=<section>``, in a file of this process's own that
``FREETDSCONF`` names. FreeTDS looks for a section there first and, where it is not found, goes on
to the administrator's own files (src/tds/config.c, ``tds_read_conf_file``), so no other
connection changes.

freetds.conf has no quoting: ``;`` and ``#`` start a comment, a line ends the value, and a line
longer than 255 characters is cut. A value that cannot be written whole is refused (ConfigError).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from jobs.errors import ConfigError

# freetds.conf lines are read into a 256-byte buffer (src/tds/config.c, tds_read_conf_section).
MAX_LINE = 255
UNWRITABLE = (";", "#", "\n", "\r", "[", "]")

_lock = threading.Lock()
_sections: dict[str, str] = {}
_folder: Path | None = None


def section_for(server: str, port: int | None, ca_file: str) -> str:
    """The name of a freetds.conf section reaching ``server`` (``host`` or ``host\\instance``)
    with its certificate checked against ``ca_file``; written on first use."""
    host, _, instance = server.partition("\\")
    values = {"host": host, "instance": instance, "port": str(port or ""), "ca file": ca_file}
    for key, value in values.items():
        if any(character in value for character in UNWRITABLE) or value != value.strip():
            setting = "ca_file" if key == "ca file" else "server"
            raise ConfigError(
                [
                    f"{setting}: {value!r} cannot be written to freetds.conf, where FreeTDS reads "
                    "its certificate check (no ';', '#', brackets, line breaks or outer spaces)"
                ]
            )
    lines = [f"\t{key} = {value}" for key, value in values.items() if value]
    lines.append("\ttds version = 7.4")
    if any(len(line) > MAX_LINE for line in lines):
        raise ConfigError([f"ca_file: longer than freetds.conf can hold ({MAX_LINE} characters)"])
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    name = f"susdb-maint-{digest}"
    with _lock:
        if name not in _sections:
            _sections[name] = "\n".join([f"[{name}]", *lines, ""])
            _write()
    return name


def _write() -> None:
    """Write every section to this process's file, replaced whole so FreeTDS never reads half."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="susdb-maint-freetds-"))
        atexit.register(shutil.rmtree, _folder, True)
    path = _folder / "freetds.conf"
    staged = _folder / "freetds.conf.new"
    staged.write_text("".join(_sections.values()), encoding="utf-8")
    staged.replace(path)
    os.environ["FREETDSCONF"] = str(path)
