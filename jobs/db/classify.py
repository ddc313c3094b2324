"""One table-driven classifier from driver errors to the project's error classes.

pyodbc puts the SQLSTATE in ``args[0]`` or, for some errors, ``args[1]`` (pyodbc issue #1206), and
the native error number only inside the message: ``[40001] [...]text (1205) (SQLExecDirectW)``.
Rules are checked in order; the first match wins; anything else is fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobs import errors
from jobs.redaction import redact_text

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_NATIVE = re.compile(r"\((-?\d+)\)\s*\((?:SQL\w+)\)\s*$|\((-?\d+)\)\s*$")
_NATIVE_ANYWHERE = re.compile(r"\((\d{3,6})\)")


@dataclass(frozen=True)
class Rule:
    error_class: type[errors.DatabaseError]
    sqlstates: frozenset[str] = frozenset()
    natives: frozenset[int] = frozenset()
    text: re.Pattern[str] | None = None


def _rule(
    cls: type[errors.DatabaseError],
    sqlstates: str = "",
    natives: tuple[int, ...] = (),
    text: str | None = None,
) -> Rule:
    return Rule(
        cls,
        frozenset(sqlstates.split()),
        frozenset(natives),
        re.compile(text, re.I) if text else None,
    )


# A driver that is missing or refuses a connection setting, wherever it is reported: the texts of
# unixODBC ("Can't open lib"), Windows' driver manager (IM002) and Microsoft's drivers ("Invalid
# connection string attribute", 01S00; "Invalid value specified for connection string attribute
# 'Encrypt'", 08001, which would otherwise read as a lost connection).
BAD_SETTING = (
    r"Invalid value specified for connection string attribute|Invalid connection string attribute"
    r"|Can't open lib|Data source name not found and no default driver"
)

RULES: tuple[Rule, ...] = (
    _rule(errors.ConnectionSettingRefused, text=BAD_SETTING),
    # Messages first: both travel as SQLSTATE 42000 / native 50000 (RAISERROR from a procedure).
    _rule(errors.ReplicaRefused, text=r"server is in replica mode"),
    _rule(errors.StillReferenced, text=r"still referenced by other update"),
    _rule(errors.TransientError, sqlstates="40001", natives=(1205, 1222)),
    _rule(
        errors.ConnectionLost,
        sqlstates="08S01 08001 08003 08004 08007 01002",
        natives=(10053, 10054, 10060, 233, 232, 64, 121, 109),
    ),
    # FreeTDS numbers its own network errors (src/tds/util.c: 20002 connection failed, 20003
    # timed out, 20004 read failed, 20006 write failed, 20009 unable to connect, 20017 unexpected
    # EOF, 20020 out of sync); a server that drops the socket mid-result is 01000 / 20017.
    _rule(errors.ConnectionLost, natives=(20002, 20003, 20004, 20006, 20009, 20017, 20020)),
    # A TCP reset mid-statement reaches pyodbc from FreeTDS as HY000 "Unknown error" with native
    # 0 (network-review D3, reproduced with a fault proxy): FreeTDS's text for a socket error it
    # has no message for. Treated as a lost link, the item is verified on the server before it is
    # ever sent again, so reading it so is safe whatever the server did.
    _rule(errors.ConnectionLost, text=r"\]Unknown error\b|^Unknown error\b"),
    _rule(errors.StatementTimeout, sqlstates="HYT00 HYT01 HY008"),
    _rule(errors.LoginFailed, sqlstates="28000", natives=(18456, 18452, 4060, 18486, 18487, 18488)),
    _rule(errors.NotPermitted, natives=(229, 230, 262, 297, 300, 1088, 15247, 916)),
)


def sqlstate_of(error: BaseException) -> str | None:
    for argument in error.args[:2]:
        if isinstance(argument, str) and _SQLSTATE.match(argument):
            return argument
    match = re.search(r"\[([0-9A-Z]{5})\]", " ".join(str(argument) for argument in error.args))
    return match.group(1) if match else None


def native_of(error: BaseException) -> int | None:
    texts = [str(argument) for argument in error.args]
    for text in texts:
        match = _NATIVE.search(text)
        if match:
            return int(match.group(1) or match.group(2))
    anywhere = _NATIVE_ANYWHERE.findall(" ".join(texts))
    return int(anywhere[-1]) if anywhere else None


def message_of(error: BaseException) -> str:
    texts = [
        str(argument)
        for argument in error.args
        if not (isinstance(argument, str) and _SQLSTATE.match(argument))
    ]
    text = " ".join(texts) or type(error).__name__
    # "[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]text (229) (SQLExecDirectW)"
    text = re.sub(r"^\[[0-9A-Z]{5}\]\s*", "", text)
    text = re.sub(r"^(\[[^\]]*\])+", "", text)
    text = re.sub(r"\s*\((?:SQL\w+)\)\s*$", "", text)
    return redact_text(text.strip())


def classify(error: BaseException, statement: str | None = None) -> errors.DatabaseError:
    """Given a driver exception, return the project's error for it (never raises)."""
    if isinstance(error, errors.DatabaseError):
        return error
    sqlstate = sqlstate_of(error)
    native = native_of(error)
    message = message_of(error)
    for rule in RULES:
        if rule.text is not None and rule.text.search(message):
            return rule.error_class(message, sqlstate=sqlstate, native=native, statement=statement)
        if rule.text is None and (
            (sqlstate is not None and sqlstate in rule.sqlstates)
            or (native is not None and native in rule.natives)
        ):
            return rule.error_class(message, sqlstate=sqlstate, native=native, statement=statement)
    return errors.DatabaseError(message, sqlstate=sqlstate, native=native, statement=statement)


# -- connections that never opened -------------------------------------------------------------
# Each driver text of a failed connection, as Microsoft's ODBC drivers (Windows wording, and the
# Linux "Error code 0x..." form of the same Winsock error) and FreeTDS write it, translated into
# a cause an administrator can act on. On Linux, pyodbc shows only the first diagnostic record
# (pyodbc src/errors.cpp), so a name that does not resolve can arrive as "Login timeout expired"
# (Microsoft) or "Unable to connect to data source" (FreeTDS): ``AMBIGUOUS`` marks those, and the
# caller checks the name itself.
CONNECT_CAUSES: tuple[tuple[re.Pattern[str], str, type[errors.DatabaseError]], ...] = tuple(
    (re.compile(pattern, re.I), cause, error_class)
    for pattern, cause, error_class in (
        (
            r"Invalid value specified for connection string attribute '([^']+)'",
            "the ODBC driver refuses the value given to its setting {0} (check encrypt and driver)",
            errors.ConnectionSettingRefused,
        ),
        (
            r"Invalid connection string attribute",
            "the ODBC driver does not know one of the connection settings (check encrypt and driver)",
            errors.ConnectionSettingRefused,
        ),
        (
            r"Can't open lib '([^']+)'|Data source name not found and no default driver",
            "the ODBC driver is not installed",
            errors.ConnectionSettingRefused,
        ),
        (r"Login failed for user '([^']*)'", "login failed for {0}", errors.LoginFailed),
        (
            r'Cannot open database "([^"]+)"',
            "the login cannot open database {0} (it does not exist, or the login has no user in it)",
            errors.LoginFailed,
        ),
        (
            r"untrusted domain",
            "the server does not accept this Windows login (untrusted domain)",
            errors.LoginFailed,
        ),
        (
            r"No Kerberos credentials|Cannot generate SSPI context|SSPI Provider",
            "integrated authentication found no Kerberos ticket for this account (kinit, a keytab, "
            "or auth = 'sql')",
            errors.LoginFailed,
        ),
        (
            r"subject name does not match host name|certificate name does not match",
            "the server's TLS certificate names another host (connect by a name the certificate "
            "carries)",
            errors.ConnectionSettingRefused,
        ),
        (
            r"certificate verify failed|certificate chain was issued by an authority that is not trusted",
            "the server's TLS certificate is not trusted (install the issuing CA on this host, or "
            "set trust_server_certificate = true if you accept that)",
            errors.ConnectionSettingRefused,
        ),
        (
            r"No such host is known|Error code 0x2AF9|\(11001\)|Unknown host machine name|"
            r"Name or service not known",
            "name does not resolve",
            errors.ConnectFailed,
        ),
        (
            r"actively refused|Error code 0x274D|\(10061\)|"
            r"Adaptive Server is unavailable or does not exist|Connection refused",
            "refused (nothing listens on that port, or a firewall rejects the connection)",
            errors.ConnectFailed,
        ),
        (
            r"Named Pipes Provider|Could not open a connection to SQL Server",
            "the named pipe cannot be opened (WID accepts local connections only: is this the WSUS "
            "host, and is the Windows Internal Database service running?)",
            errors.ConnectFailed,
        ),
        (
            r"Login timeout expired|Timeout expired|Error code 0x2742|\(10060\)|"
            r"wait operation timed out",
            "timed out (no answer: the server is down, or a firewall drops the traffic)",
            errors.ConnectFailed,
        ),
        (
            r"simulated SUSDB not found",
            "the simulated SUSDB file does not exist (make one at that path: susdb-maint "
            "simulator create --sim FILE)",
            errors.ConnectFailed,
        ),
        (
            r"simulated SUSDB made by another",
            "the simulated SUSDB file was made by another susdb-maint version; make it again "
            "(susdb-maint simulator create --sim FILE --fresh)",
            errors.ConnectFailed,
        ),
        # A simulator path that names another kind of file is the config's mistake: exit 2, no
        # retry (admin review R59).
        (
            r"no such table: sim_meta",
            "the file is a SQLite database but not a simulated SUSDB (the state store?); make "
            "one: susdb-maint simulator create --sim FILE",
            errors.ConnectionSettingRefused,
        ),
        (
            r"file is not a database",
            "the file is not a simulated SUSDB (not even SQLite); make one: susdb-maint "
            "simulator create --sim FILE",
            errors.ConnectionSettingRefused,
        ),
        (
            r"forcibly closed|Error code 0x2746|\(10054\)|Unexpected EOF from the server|"
            r"Unable to connect to data source",
            "the server closed the connection before the login (TLS settings, or not a SQL Server)",
            errors.ConnectFailed,
        ),
    )
)
AMBIGUOUS = frozenset({"timed out", "the server closed"})


def connect_cause(error: BaseException) -> tuple[type[errors.DatabaseError], str, bool]:
    """Given the driver's error for a connection that never opened, return the error class, the
    cause in an administrator's words, and whether the text may hide a name that does not resolve."""
    message = message_of(error)
    for pattern, cause, error_class in CONNECT_CAUSES:
        match = pattern.search(message)
        if match:
            text = cause.format(*(group for group in match.groups() if group is not None))
            return error_class, text, any(text.startswith(prefix) for prefix in AMBIGUOUS)
    error_class = type(classify(error))
    if error_class in (errors.ConnectionLost, errors.StatementTimeout, errors.DatabaseError):
        error_class = errors.ConnectFailed
    return error_class, "the connection failed", True
