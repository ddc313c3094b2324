"""Tell a refused login from a database the login cannot open (admin review S02).

SQL Server answers a login to a database that does not exist, or that the login has no user in,
with error 4060 ("Cannot open database ... requested by the login. The login failed.") and then
18456; a wrong password gets 18456 alone. FreeTDS reports the last error and Microsoft's drivers
the first, so through FreeTDS a misspelled database reads "login failed". One more login, to
master with the same credentials, tells them apart: any login opens master (its guest user
cannot be disabled there), so when master opens, the password is right and the database is the
problem. The refusal then names the setting, its value and the databases the server has, read
from sys.databases: every login sees every name there through VIEW ANY DATABASE, which public
holds by default (Microsoft Learn, sys.databases).

The second login is made only when the driver's answer leaves the question open. Through
Microsoft's drivers 18456 alone is the password (a database would have been 4060 first), and a
second failed login would only bring a lockout policy's threshold (CHECK_POLICY) nearer; through
FreeTDS a wrong password costs two failed logins instead of one.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from typing import Any

from jobs.db.catalog import statement
from jobs.db.classify import message_of
from jobs.errors import DatabaseError, LoginFailed
from jobs.redaction import redact_text

MASTER = "master"
SHOWN = 10  # database names a refusal lists; "and N more" for the rest
LOGIN_FAILED, CANNOT_OPEN = 18456, 4060


def needs_master(failure: DatabaseError, database: str, freetds: bool) -> bool:
    """Whether a login to master would tell this refusal's cause: a refused login to a database
    other than master, that the driver did not already pin on the database or the login."""
    if not isinstance(failure, LoginFailed) or database.casefold() == MASTER:
        return False
    return failure.native == CANNOT_OPEN or (failure.native == LOGIN_FAILED and freetds)


def explain(
    failure: DatabaseError,
    setting: str,
    database: str,
    where: str,
    open_master: Callable[[], Any | None],
) -> DatabaseError:
    """Given a refused login to ``database`` (configured at ``setting``, on the server ``where``
    describes: "could not connect to NAME (ADDRESS)"), return the refusal to report:
    ``failure`` itself when master refuses the same credentials too (or cannot be reached:
    ``open_master`` returns None), else one that names the database as the cause, with the
    databases the server has."""
    master = open_master()
    if master is None:
        return failure
    try:
        rows = master.cursor().execute(statement("database_names").text).fetchall()
        names: list[str] | None = [str(row[0]) for row in rows]
        unread = ""
    except Exception as error:  # any driver error: the listing is a courtesy, the cause is known
        names, unread = None, message_of(error)
    finally:
        with contextlib.suppress(Exception):
            master.close()
    accepted = "the login itself is accepted: it opens master"
    if names is None:
        cause = (
            f"{setting}: the login cannot open {database!r} ({accepted}; the server's databases "
            f"could not be read: {unread})"
        )
    elif database.casefold() in {name.casefold() for name in names}:
        cause = (
            f"{setting}: the login cannot open {database!r}, which this server has (the login "
            f"has no user in it, or it is offline, restoring or single-user); {accepted}"
        )
    else:
        cause = (
            f"{setting}: {database!r} is not a database on this server "
            f"(it has {_listed(names)}{_closest(database, names)}); {accepted}"
        )
    return LoginFailed(
        redact_text(f"{where}: {cause}"),
        sqlstate=failure.sqlstate,
        native=CANNOT_OPEN,
        statement=failure.statement,
    )


def _listed(names: list[str]) -> str:
    ordered = sorted(names, key=str.casefold)
    more = len(ordered) - SHOWN
    return ", ".join(ordered[:SHOWN]) + (f", and {more} more" if more > 0 else "") or "none"


def _closest(database: str, names: list[str]) -> str:
    by_folded = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(database.casefold(), list(by_folded), n=1)
    return f"; did you mean {by_folded[close[0]]!r}?" if close else ""
