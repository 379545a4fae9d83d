"""The guardian: Alice's policy gateway in front of the orchestrator (auth, limits, signed forwarding)."""
