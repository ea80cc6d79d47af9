"""YAML reading shared by the config and the pipeline executor."""

from __future__ import annotations

import yaml

#: libyaml's safe loader when PyYAML was built with it (about 5x faster), else the pure one.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
