"""The API: short views that translate: validate the request, call a selector or a service (which checks
the caller's role itself and writes the audit log), and serialize.

Every list is paginated, stably ordered, and served as JSON or CSV (``?format=csv`` or
``Accept: text/csv``). Every GET carries an ETag and answers ``If-None-Match`` with 304.

One module a resource: ``audits`` (audits and indicators), ``results`` (results, XmR trends, model cards),
``organisations``, ``releases`` (and their patient rows), ``imports`` (uploads), ``tokens``, ``root`` (the
root and the catch-all 404); ``base`` has what they share (ETags, caching headers).
"""
