"""The gateway: FastAPI app, engine (worker pools, deadlines, cache), settings and CLI."""
