"""Code shared by the steel-forecast components and the scoring script.

Only pandas, numpy, lightgbm and the standard library: these components must run on Azure ML
without mlops installed.
"""
