"""The example project shipped with mlops: monthly steel-purchase forecasting."""

from mlops_azure.example.generator import COLUMNS, Bias, Shock, generate_purchases, write_purchases

__all__ = ["COLUMNS", "Bias", "Shock", "generate_purchases", "write_purchases"]
