# legacy-gateway: `make image` (docker build --network host -t legacy-gateway .)
# Run: docker run -p 8080:8080 -v $PWD/my-config:/etc/legacy-gateway:ro \
#        -v gateway-data:/var/lib/legacy-gateway legacy-gateway
#
# Base: Debian bookworm's Python 3.11. Release builds pin it by digest, e.g.
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
# (refresh with `docker buildx imagetools inspect python:3.11-slim-bookworm`).
ARG PYTHON_IMAGE=python:3.11-slim

# Dependencies in a virtualenv of their own: this layer is rebuilt only when pyproject.toml
# changes, not on every change to the code.
FROM ${PYTHON_IMAGE} AS deps
WORKDIR /src
COPY pyproject.toml ./
RUN python3 -m venv /opt/legacy-gateway \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && /opt/legacy-gateway/bin/pip install --no-cache-dir --quiet -r requirements.txt

FROM deps AS build
COPY README.md ./
COPY gateway gateway
COPY adapters adapters
COPY estate estate
COPY mappings mappings
RUN /opt/legacy-gateway/bin/pip wheel --no-cache-dir --no-deps --quiet --wheel-dir /dist .

FROM ${PYTHON_IMAGE}
# unixODBC and the ODBC drivers the image speaks to out of the box (PostgreSQL, MariaDB and
# MySQL, SQLite); add your database's driver (IBM i Access, Db2, ...) in a derived image.
# Runtime libraries only: no compiler, no -dev package.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbc-postgresql odbc-mariadb libsqliteodbc \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin gateway \
 && mkdir -p /var/lib/legacy-gateway /etc/legacy-gateway \
 && chown gateway:gateway /var/lib/legacy-gateway
COPY --from=deps /opt/legacy-gateway /opt/legacy-gateway
COPY --from=build /dist /tmp/dist
RUN /opt/legacy-gateway/bin/pip install --no-cache-dir --no-deps --quiet /tmp/dist/*.whl \
 && rm -rf /tmp/dist
# The demo config is the default; mount your own YAML directory over /etc/legacy-gateway.
COPY --chown=root:root mappings/demo /etc/legacy-gateway
ENV PATH=/opt/legacy-gateway/bin:$PATH \
    LEGACY_GATEWAY_AUDIT_DB=/var/lib/legacy-gateway/audit.sqlite \
    LEGACY_GATEWAY_DRAIN_GRACE_S=20 \
    LEGACY_GATEWAY_HEALTH_URL=http://127.0.0.1:8080/healthz \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The audit log's signing key and commitment salt are made beside the database on first start,
# in the volume. Replicas sharing PostgreSQL: set LEGACY_GATEWAY_AUDIT_STORE=postgresql://...
# and mount one key for all of them (LEGACY_GATEWAY_AUDIT_KEY). Spans go out over OTLP when
# OTEL_EXPORTER_OTLP_ENDPOINT is set.
VOLUME ["/var/lib/legacy-gateway"]
USER 10001:10001
WORKDIR /home/gateway
EXPOSE 8080
# Serving on another port? Set LEGACY_GATEWAY_HEALTH_URL to match.
# SIGTERM drains: readiness goes false, new calls get a retryable 503, calls in flight finish
# within LEGACY_GATEWAY_DRAIN_GRACE_S; give `docker stop -t` a few seconds more than that.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['LEGACY_GATEWAY_HEALTH_URL'], timeout=2).status == 200 else 1)"]
# Last, so that a new revision changes only this layer's metadata.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="legacy-gateway" \
      org.opencontainers.image.description="Legacy systems (SOAP, ODBC, AMQP, HTTP) as typed, recorded tools for AI agents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
ENTRYPOINT ["legacy-gateway"]
CMD ["serve", "--config", "/etc/legacy-gateway", "--host", "0.0.0.0", "--port", "8080"]
