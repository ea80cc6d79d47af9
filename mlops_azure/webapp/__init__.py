"""``mlops ui``: a small web app over one project for the people who use its predictions.

Server-rendered (Flask and Jinja, which the Azure ML inference server already brings), with htmx
vendored for partial updates and plots as inline SVG: nothing is fetched from the internet, the
core forms work with JavaScript off, and the endpoint key stays on the server.

``create_app(UiSettings(...))`` gives the WSGI application; ``serve`` runs it under gunicorn.
"""

from mlops_azure.webapp._app import create_app
from mlops_azure.webapp._server import serve
from mlops_azure.webapp._settings import UiSettings

__all__ = ["UiSettings", "create_app", "serve"]
