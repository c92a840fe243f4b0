"""Explicit serializers: every field the API shows is named in this package, in the order CSV columns take.

Counts pass through ``indicators.disclosure`` with ``unsuppressed`` from ``accounts.roles``;
serializers only read what the view put in their context (no queries of their own).

One module a resource, as the views (``api.views``) have them: ``audits``, ``results``, ``organisations``,
``releases``, ``imports``, ``tokens``; ``validators`` has the validators they share.
"""
