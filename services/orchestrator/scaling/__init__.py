"""The Fibonacci scaler: replica recommendations per service, and the backends that carry them out.

- :mod:`.policy`: the decision (φ thresholds around a target utilisation, Fibonacci replica steps, cooldowns,
  confidence) and the plain proportional scaler it is measured against (``alice bench scaler``). Pure logic with
  an injected clock.
- :mod:`.meter`: what the load is measured from — the orchestrator's own CPU, and every call to the NLU and the
  LLM servers timed from the client side (an httpx transport that sees each exchange to its last byte).
- :mod:`.load`: the per-service load (req/s, p95, utilisation) built from those measurements and the settings.
- :mod:`.kube` and :mod:`.compose`: the Kubernetes (Deployment scale subresource) and Docker (a compose service's
  containers through the Docker SDK) backends, each with a dry run that prints the exact API requests.

No FastAPI here: ``orchestrator.scalingapi`` serves the recommendations, ``alice scale`` applies them.
"""
