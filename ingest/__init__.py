"""Ingestion: source adapters, Italian normalization and the pipeline that stores articles.

It may import `db` (to store) but never `feeds` or `rassegna`.
"""
