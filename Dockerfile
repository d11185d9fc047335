# legacy-gateway: `docker build -t legacy-gateway .`
# Run: docker run -p 8080:8080 -v $PWD/mappings/demo:/etc/legacy-gateway:ro legacy-gateway
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY adapters adapters
COPY estate estate
COPY mappings mappings
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# unixODBC and the ODBC drivers the image speaks to out of the box (PostgreSQL, MariaDB and
# MySQL, SQLite); add your database's driver (IBM i Access, Db2, ...) in a derived image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbc-postgresql odbc-mariadb libsqliteodbc \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gateway \
 && mkdir -p /var/lib/legacy-gateway /etc/legacy-gateway \
 && chown gateway:gateway /var/lib/legacy-gateway
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# The demo config is the default; mount your own YAML directory over /etc/legacy-gateway.
COPY --chown=root:root mappings/demo /etc/legacy-gateway
ENV LEGACY_GATEWAY_AUDIT_DB=/var/lib/legacy-gateway/audit.sqlite \
    PYTHONUNBUFFERED=1
# The audit log's signing key and commitment salt are made beside the database on first start,
# in the volume. Replicas sharing PostgreSQL: set LEGACY_GATEWAY_AUDIT_STORE=postgresql://...
# and mount one key for all of them (LEGACY_GATEWAY_AUDIT_KEY). Spans go out over OTLP when
# OTEL_EXPORTER_OTLP_ENDPOINT is set.
VOLUME ["/var/lib/legacy-gateway"]
USER gateway
WORKDIR /home/gateway
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["legacy-gateway"]
CMD ["serve", "--config", "/etc/legacy-gateway", "--host", "0.0.0.0", "--port", "8080"]
