"""Alice's orchestrator: verifies the guardian's signature, asks the NLU, routes and answers with an LLM.

The domain modules (:mod:`orchestrator.chat`, :mod:`orchestrator.router`, :mod:`orchestrator.gate`,
:mod:`orchestrator.nlu`, :mod:`orchestrator.llm`, :mod:`orchestrator.sse`) import nothing from FastAPI;
:mod:`orchestrator.api` and :mod:`orchestrator.deps` are the thin HTTP layer, :mod:`orchestrator.app` the wiring.
"""
