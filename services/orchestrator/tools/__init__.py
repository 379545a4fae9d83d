"""Deterministic tools the router calls without an LLM: typed arguments, typed results, Swedish answers."""
