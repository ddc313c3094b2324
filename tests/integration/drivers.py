"""The ODBC drivers the real-driver tier runs: FreeTDS (Debian's tdsodbc) and Microsoft's ODBC
Driver 18 for SQL Server, the driver most WSUS hosts use.

Microsoft publishes the Linux build of Driver 18 on PyPI as ``mssql-python-odbc`` (the driver
library, its ``libodbcinst`` and its message resources, for Debian/Ubuntu, RHEL and SUSE, inside
the wheel; a test dependency here). unixODBC finds a driver by name in ``odbcinst.ini``; the file
it reads is the one in the folder ``ODBCSYSINI`` names. ``register_driver18`` writes such a file,
with the drivers already registered on this host and Driver 18 added, and points ``ODBCSYSINI``
at it. unixODBC keeps the folder it read first, so this runs when the test session starts
(``tests/conftest.py``), before anything asks unixODBC for a driver; the CLI runs the tests start
inherit the variable.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

FREETDS = "FreeTDS"
DRIVER18 = "ODBC Driver 18 for SQL Server"
REQUIRED = "SUSDB_REQUIRE_DRIVER18"  # set by .ci/run, which installs what Driver 18 needs
_FLAVOURS = {"debian": "debian_ubuntu", "ubuntu": "debian_ubuntu", "rhel": "rhel", "suse": "suse"}


def driver18_library() -> tuple[Path | None, str]:
    """The wheel's Driver 18 library for this system, or None and why not."""
    spec = importlib.util.find_spec("mssql_python_odbc")
    if spec is None or spec.origin is None:
        return None, "the mssql-python-odbc wheel is not installed (pip install -e '.[test]')"
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None, f"the wheel's Driver 18 is for Linux x86_64, not {platform.platform()}"
    flavour = _FLAVOURS.get(_os_family())
    if flavour is None:
        return None, f"the wheel has no Driver 18 build for this Linux ({_os_family()})"
    folder = Path(spec.origin).parent / "libs" / "linux" / flavour / "x86_64" / "lib"
    libraries = sorted(folder.glob("libmsodbcsql-18*.so*"))
    if not libraries:
        return None, f"no libmsodbcsql-18 library in {folder}"
    return libraries[-1], ""


def _os_family() -> str:
    try:
        fields = dict(
            line.split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
    except OSError:
        return "unknown"
    names = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".replace('"', "").split()
    return next((name for name in names if name in _FLAVOURS), names[0] if names else "unknown")


def _system_odbcinst() -> str:
    """The text of the odbcinst.ini unixODBC reads on this host (``odbcinst -j``)."""
    try:
        listing = subprocess.run(
            ["odbcinst", "-j"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return ""
    match = re.search(r"^DRIVERS\.*:\s*(\S+)", listing, re.M)
    if not match:
        return ""
    try:
        return Path(match.group(1)).read_text(encoding="utf-8")
    except OSError:
        return ""


def register_driver18() -> str | None:
    """Make Driver 18 known to unixODBC under its usual name; return why not, or None."""
    library, reason = driver18_library()
    if library is None:
        return reason
    existing = _system_odbcinst()
    if f"[{DRIVER18}]" in existing:
        return None  # installed on this host already (Microsoft's package)
    folder = Path(tempfile.mkdtemp(prefix="susdb-maint-odbc-"))
    (folder / "odbcinst.ini").write_text(
        f"{existing.rstrip()}\n\n[{DRIVER18}]\nDescription=Microsoft ODBC Driver 18 for SQL "
        f"Server (mssql-python-odbc wheel)\nDriver={library}\nUsageCount=1\n",
        encoding="utf-8",
    )
    os.environ["ODBCSYSINI"] = str(folder)
    return None


def driver18_problem() -> str | None:
    """Why Driver 18 cannot run here (None: pyodbc lists it)."""
    try:
        import pyodbc
    except ImportError as error:
        return f"pyodbc cannot load ({error})"
    if DRIVER18 not in pyodbc.drivers():
        library, reason = driver18_library()
        return reason or f"{DRIVER18} is not registered with unixODBC ({library})"
    return None
