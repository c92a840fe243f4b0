"""/api/v1/: read endpoints for everyone (suppressed figures), write endpoints for an audit's analysts."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from api import schema  # noqa: F401  registers the token scheme with drf-spectacular before its views run
from api.docs import docs_csp
from api.views import audits, imports, organisations, outliers, releases, results, root, tokens

app_name = "api"

INDICATOR = "audits/<slug:audit_code>/indicators/<slug:indicator>/"

urlpatterns = [
    path("", root.ApiRoot.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The documentation pages run only our static files, but need inline styles (see api/docs.py).
    path("docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path(
        "redoc/",
        docs_csp(SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")),
        name="redoc",
    ),
    path("audits/", audits.AuditList.as_view(), name="audit-list"),
    path("audits/<slug:audit_code>/", audits.AuditDetail.as_view(), name="audit-detail"),
    path("audits/<slug:audit_code>/indicators/", audits.IndicatorList.as_view(), name="indicator-list"),
    path(INDICATOR, audits.IndicatorDetail.as_view(), name="indicator-detail"),
    path(INDICATOR + "model-card/", results.ModelCardView.as_view(), name="model-card"),
    path(INDICATOR + "xmr/<str:organisation>/", results.TrendView.as_view(), name="xmr"),
    path("alliances/", organisations.AllianceList.as_view(), name="alliance-list"),
    path("alliances/<str:code>/", organisations.AllianceDetail.as_view(), name="alliance-detail"),
    path("trusts/", organisations.TrustList.as_view(), name="trust-list"),
    path("trusts/<str:code>/", organisations.TrustDetail.as_view(), name="trust-detail"),
    path("successors/", organisations.SuccessorList.as_view(), name="successor-list"),
    path("releases/", releases.ReleaseList.as_view(), name="release-list"),
    path("releases/<int:release_id>/", releases.ReleaseDetail.as_view(), name="release-detail"),
    path("releases/<int:release_id>/publish/", releases.ReleasePublish.as_view(), name="release-publish"),
    path("releases/<int:release_id>/withdraw/", releases.ReleaseWithdraw.as_view(), name="release-withdraw"),
    path("releases/<int:release_id>/recompute/", releases.ReleaseRecompute.as_view(), name="release-recompute"),
    path("releases/<int:release_id>/rows/", releases.ReleaseRows.as_view(), name="release-rows"),
    path("imports/", imports.ImportList.as_view(), name="import-list"),
    path("imports/<int:job_id>/", imports.ImportDetail.as_view(), name="import-detail"),
    path("results/", results.ResultList.as_view(), name="result-list"),
    path("inequalities/", results.InequalityView.as_view(), name="inequalities"),
    path("outliers/", outliers.OutlierCaseList.as_view(), name="outlier-list"),
    path("outliers/<int:case_id>/", outliers.OutlierCaseDetail.as_view(), name="outlier-detail"),
    path("outliers/<int:case_id>/transition/", outliers.OutlierCaseTransition.as_view(), name="outlier-transition"),
    path("tokens/", tokens.TokenList.as_view(), name="token-list"),
    path("tokens/<int:token_id>/", tokens.TokenDetail.as_view(), name="token-detail"),
    # Last: an address that matches nothing above (e.g. a code with spaces) gets a JSON or CSV 404.
    re_path(r"^[\s\S]*$", root.NotFound.as_view()),
]
