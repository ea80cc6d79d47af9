"""The ``mlops`` command line: parse, call ``mlops_azure.lifecycle``, render. No logic of its own."""
