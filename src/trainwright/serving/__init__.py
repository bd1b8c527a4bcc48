"""Layer 7: the REST server of a model bundle (FastAPI + uvicorn). Never imports training or the workflow."""

from trainwright.serving.app import API_KEY_ENV, ServeSettings, build_app, serve

__all__ = ["API_KEY_ENV", "ServeSettings", "build_app", "serve"]
