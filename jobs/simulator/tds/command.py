"""``susdb-maint simulator serve``: serve a simulated SUSDB over TDS until interrupted."""

from __future__ import annotations

import ipaddress
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from jobs.errors import UsageError
from jobs.simulator.faults import FAULT_TIMING, FaultPlan
from jobs.simulator.tds.server import ServeOptions, SimulatorServer

TARGET_NAME = "served"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _stop(_signal: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _tls_files(cert: str | None, key: str | None) -> tuple[Path, Path] | None:
    """The certificate and key PEM files TLS is offered with, checked here (one line each)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together: give both, or neither")
    files = (Path(cert).expanduser(), Path(key).expanduser())
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(*files)
    except (OSError, ssl.SSLError) as error:
        raise UsageError(f"--tls-cert/--tls-key: cannot use them: {error}") from None
    return files


def serve(
    *,
    sim: str,
    port: int,
    host: str,
    user: str,
    password_env: str,
    database: str,
    time_scale: float,
    latency_ms: float,
    preset: str | None,
    fault_rate: float,
    fault_kinds: list[str] | None,
    fault_statements: list[str] | None,
    fault_seed: int,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    out: Any = None,
) -> int:
    out = out or sys.stdout
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: {port} is not a TCP port (0 to 65535; 0 picks a free one)")
    if time_scale < 0 or latency_ms < 0:
        raise UsageError("--time-scale and --latency-ms cannot be negative")
    password = os.environ.get(password_env)
    if not password:
        raise UsageError(
            f"--password-env: environment variable {password_env} is not set or empty; set it to "
            "the password clients must log in with"
        )
    path = Path(sim).expanduser()
    if preset:
        from jobs.demo import ensure_simulated_susdb

        ensure_simulated_susdb(path, preset, None, 1, fresh=False)
    if not path.is_file():
        raise UsageError(f"--sim: simulated SUSDB not found: {path} (create one with --preset)")
    try:
        faults = FaultPlan(
            rate=fault_rate,
            kinds=fault_kinds or ["deadlock", "lock_timeout"],
            statements=fault_statements or [],
            seed=fault_seed,
        )
    except ValueError as error:
        raise UsageError(f"--fault-kind: {error} (known: {', '.join(FAULT_TIMING)})") from None
    tls = _tls_files(tls_cert, tls_key)
    options = ServeOptions(
        tls=tls,
        sim=path,
        user=user,
        password=password,
        database=database,
        time_scale=time_scale,
        latency=latency_ms / 1000.0,
        faults=faults,
    )
    try:
        server = SimulatorServer(options, host=host, port=port)
    except OSError as error:
        raise UsageError(f"--port: cannot listen on {host}:{port}: {error.strerror}") from None
    if not _is_loopback(host):
        sys.stderr.write(
            f"susdb-maint: warning: listening on {host}, not loopback: anyone who reaches it can "
            "log in" + ("\n" if tls else ", and nothing is encrypted\n")
        )
    pace = f"{time_scale:g} modelled seconds per second" if time_scale else "no real time"
    encryption = "TLS with the given certificate" if tls else "no TLS"
    out.write(
        f"listening on {server.host}:{server.port}\n"
        f"Serving {path} as database {database} over TDS ({pace}). A test and demo tool, not a "
        f"SQL Server: one SQL login, {encryption}.\n"
        f"ODBC connection string:\n  {server.connection_string(f'<${password_env}>')}\n"
        f"susdb-maint target (add to a config file):\n\n"
        f"{server.target_config(TARGET_NAME, password_env)}\n"
        "Ctrl+C stops it.\n"
    )
    out.flush()
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
