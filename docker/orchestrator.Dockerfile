# syntax=docker/dockerfile:1
# Alice orchestrator: caches, NLU, router, tools and LLM calls (port 8000).
# Build from the repository root:  docker build -f docker/orchestrator.Dockerfile -t alice-orchestrator .
# Installs the shared kernel plus only this service's extra (pip install ".[orchestrator]").

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip pip install ".[orchestrator]"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    ALICE_HOME=/var/lib/alice \
    ALICE_LOG_FORMAT=json \
    ORCHESTRATOR_PORT=8000
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/alice alice
COPY --from=build /opt/venv /opt/venv
# Numeric, so Kubernetes runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /var/lib/alice
EXPOSE 8000
# Liveness only (/health); docker-compose.yml checks /ready, which also covers the dependencies.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["uvicorn", "orchestrator.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
