"""Predictive cache warming: request telemetry, a next-intent model, and a background warmer that answers the
likely next questions of active sessions into the answer cache within a budget (docs/FIBONACCI.md)."""
