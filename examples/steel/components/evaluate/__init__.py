"""The evaluate component (see evaluate.yml)."""
