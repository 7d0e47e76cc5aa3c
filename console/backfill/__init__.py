"""The enrichment backfill: upload checks, jobs, the row worker and the CSV export.

Pages and CLI commands call these services; the services hold every rule.
"""
