"""The column types, a module for each family of them; each module lists its types in ``TYPES``.

``audits.ingest.columns`` gathers every module here: a new module needs no other change.
"""
