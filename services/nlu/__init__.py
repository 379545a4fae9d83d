"""Alice's Swedish intent and entity service (``uvicorn nlu.app:create_app --factory``, port 9002)."""
