"""The simulated SUSDB over TDS, for the real driver stack: pyodbc, unixODBC, FreeTDS and
Microsoft's ODBC Driver 18.

A test and demo tool, not a SQL Server. It speaks the part of MS-TDS 7.2 to 7.4 that the ODBC
drivers use for the statements in ``sql/``: PRELOGIN (answered ENCRYPT_NOT_SUP unless it is
given a certificate, ``ServeOptions.tls``: then TLS as SQL Server offers it, for the login only or
the whole session, and TDS 8 ``strict``, see ``tls.py``), LOGIN7 with one SQL login
(a wrong user or password: error 18456; another database: 4060 then 18456; master, tempdb
and msdb open for any login, with ``sys.databases``), SQL batches, RPC
(``sp_executesql``, ``sp_prepexec``, ``sp_prepare``, ``sp_execute``, ``sp_unprepare``), result
sets, PRINT-style messages as INFO tokens, errors as ERROR tokens with SQL Server's number,
state and severity, row counts, and attention (cancel) answered with DONE_ATTN. Every session
runs on its own ``jobs.simulator.connect`` connection, so the statement dispatch, cost model,
fault plan and call log are those of the in-process simulator.

Modules: ``wire`` (packets), ``datatypes`` (values on the wire), ``requests`` and ``tokens`` (what
each side sends), ``placeholders`` (``@P1`` back to ``?``), ``pacing`` (time), ``session`` (one
connection) and ``server`` (the listener).
"""

from jobs.simulator.tds.server import LOOPBACK, ServeOptions, SimulatorServer

__all__ = ["LOOPBACK", "ServeOptions", "SimulatorServer"]
