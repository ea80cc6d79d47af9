"""Where batch forecasts go besides files: PostgreSQL (``mlops-azure[postgres]``).

Importing this package does not import the database driver; the first connection does.
"""

from mlops_azure.sinks.postgres import DSN_VARIABLE, PostgresSink

__all__ = ["DSN_VARIABLE", "PostgresSink"]
