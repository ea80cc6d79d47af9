"""The train component (see train.yml)."""
