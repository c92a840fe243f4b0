"""Synthetic demo extracts for any audit, read from its definition file.

``audits.demo.spec`` reads and checks a definition's optional ``demo:`` section (pure Python, loaded at start-up
with the definitions); ``audits.demo.engine`` draws the extract (numpy, pandas and pyarrow, imported only by the
commands and tests that generate data). See docs/adding-an-audit.md, "The demo section".
"""
