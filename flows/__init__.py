"""Prefect orchestration, artifacts and the akhbar CLI."""
