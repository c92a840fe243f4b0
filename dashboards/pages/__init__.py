"""One module per page: its pieces as dataclasses (stored as JSON, ADR 0003), the CSV schemas of its tables
beside them, and how they are built from a run's stored results (:mod:`dashboards.pages.run`).

Built by :mod:`dashboards.services`, read by :mod:`dashboards.selectors`, rendered by :mod:`dashboards.views`.
"""
