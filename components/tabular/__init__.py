"""Helpers shared by this project's components: reading and encoding tabular data, saving and
loading LightGBM models, metrics, explanations and inference data collection.

Written by ``mlops init --data`` into the project and owned by it: the components run on Azure ML
with only pandas, numpy and LightGBM installed, so nothing here imports mlops_azure.
"""
