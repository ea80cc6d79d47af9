"""The data_check component (see data_check.yml)."""
