# susdb-maint in a container: the scheduler worker by default, or any command
# (docker run ... susdb-maint run --profile nightly).
# Build:  docker build -t susdb-maint .                       (Microsoft ODBC Driver 18)
#         docker build --build-arg ODBC_DRIVER=freetds -t susdb-maint:freetds .
FROM python:3.12-slim-bookworm

ARG ODBC_DRIVER=msodbcsql18
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SUSDB_MAINT_CONFIG=/etc/susdb-maint/susdb-maint.toml \
    SUSDB_MAINT_STATE_DIR=/var/lib/susdb-maint

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# unixODBC for pyodbc, and either Microsoft's driver (from Microsoft's Debian repository) or FreeTDS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg unixodbc \
    && if [ "$ODBC_DRIVER" = "msodbcsql18" ]; then \
         curl -fsSL https://packages.microsoft.com/keys/microsoft.asc \
           | gpg --dearmor -o /usr/share/keyrings/microsoft-prod.gpg \
         && echo "deb [arch=amd64 signed-by=/usr/share/keyrings/microsoft-prod.gpg] https://packages.microsoft.com/debian/12/prod bookworm main" \
           > /etc/apt/sources.list.d/mssql-release.list \
         && apt-get update \
         && ACCEPT_EULA=Y apt-get install -y --no-install-recommends msodbcsql18; \
       else \
         apt-get install -y --no-install-recommends tdsodbc; \
       fi \
    && apt-get purge -y curl gnupg \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/susdb-maint
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY sql ./sql
COPY config ./config
RUN pip install --no-cache-dir ".[sqlserver]"

RUN useradd --system --uid 10001 --home-dir /var/lib/susdb-maint --create-home susdb \
    && mkdir -p /etc/susdb-maint \
    && chown susdb /var/lib/susdb-maint
USER 10001
VOLUME ["/etc/susdb-maint", "/var/lib/susdb-maint"]

# Healthy while the configuration (mounted at /etc/susdb-maint) validates.
HEALTHCHECK --interval=5m --timeout=30s --start-period=1m \
    CMD ["susdb-maint", "config", "check"]

ENTRYPOINT ["susdb-maint"]
CMD ["schedule"]
