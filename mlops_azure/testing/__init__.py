"""Offline test doubles for Azure: Azurite start-up and the simulated Azure ML service."""
