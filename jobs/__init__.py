"""susdb-maint: a batched, resumable, time-boxed maintenance worker for the WSUS database (SUSDB).

Data flows one way: config -> plan -> runner -> stage -> gateway -> named T-SQL in ``sql/`` ->
a DB-API connection (pyodbc for SQL Server and WID, or the built-in simulated SUSDB).
"""

from importlib import metadata

try:
    __version__ = metadata.version("susdb-maint")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
