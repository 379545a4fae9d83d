# syntax=docker/dockerfile:1
# Alice NLU: Swedish intents, entities, route hints and sentence embeddings (port 9002).
# Build from the repository root:  docker build -f docker/nlu.Dockerfile -t alice-nlu .
# Installs the shared kernel plus only this service's extra (pip install ".[nlu]").

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip pip install ".[nlu]"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    ALICE_HOME=/var/lib/alice \
    ALICE_LOG_FORMAT=json \
    NLU_PORT=9002
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/alice alice
COPY --from=build /opt/venv /opt/venv
# Numeric, so Kubernetes runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /var/lib/alice
EXPOSE 9002
# Liveness only (/health); docker-compose.yml checks /ready, which also covers the dependencies.
HEALTHCHECK --interval=10s --timeout=3s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9002/health', timeout=2)"]
CMD ["uvicorn", "nlu.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "9002", "--no-access-log"]
