"""Moved to :mod:`accounts.roles` (issue 12: accounts and audits no longer import each other; audits uses
accounts). Kept only until dashboards/selectors.py and dashboards/views.py import ``accounts.roles``: then
delete this module.
"""

from accounts.roles import *  # noqa: F403
