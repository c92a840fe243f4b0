from django.urls import path

from dashboards.views import alliance, funnel, home, indicator, inequality, outliers, releases, trust
from indicators.levels import ALLIANCE

urlpatterns = [
    path("", home.home, name="home"),
    path("search/", home.search, name="search"),
    path("audits/<slug:audit_code>/", home.audit, name="audit"),
    path("audits/<slug:audit_code>/indicators/<slug:code>/", indicator.indicator, name="indicator"),
    path(
        "audits/<slug:audit_code>/indicators/<slug:code>/false-discoveries/",
        indicator.false_discoveries,
        name="indicator-fdr",
    ),
    path(
        "audits/<slug:audit_code>/indicators/<slug:code>/inequalities/",
        inequality.inequalities,
        name="inequalities",
    ),
    path(
        "audits/<slug:audit_code>/releases/<int:release_id>/changes/",
        releases.release_changes,
        name="release-changes",
    ),
    path("audits/<slug:audit_code>/data-quality/", releases.data_quality, name="data-quality"),
    path("audits/<slug:audit_code>/data-quality/status/", releases.data_quality_status, name="data-quality-status"),
    path("trusts/<str:code>/", trust.trust, name="trust"),
    path("trusts/<str:code>/plan/", trust.plan, name="trust-plan"),
    path("trusts/<str:code>/trends/<slug:audit_code>/<slug:indicator_code>/", indicator.trend, name="trust-trend"),
    path(
        "trusts/<str:code>/flag-check/<slug:audit_code>/<slug:indicator_code>/",
        indicator.flag_check,
        name="trust-flag-check",
    ),
    path("alliances/<str:code>/", alliance.alliance, name="alliance"),
    path("alliances/<str:code>/act-first/", alliance.alliance_act_first, name="alliance-act-first"),
    path("alliances/<str:code>/print/", alliance.alliance_print, name="alliance-print"),
    path("trusts/<str:code>/print/", trust.trust_print, name="trust-print"),
    path("trusts/<str:code>/for-patients/", trust.for_patients, name="trust-for-patients"),
    path(
        "alliances/<str:code>/trends/<slug:audit_code>/<slug:indicator_code>/",
        indicator.trend,
        {"level": ALLIANCE},
        name="alliance-trend",
    ),
    path("tools/funnel/", funnel.funnel_tool, name="funnel-tool"),
    path("outliers/", outliers.outlier_cases, name="outlier-cases"),
    path("outliers/<int:case_id>/", outliers.outlier_case, name="outlier-case"),
    path("outliers/<int:case_id>/outcome/", outliers.outlier_case_advance, name="outlier-case-advance"),
    path("outliers/<int:case_id>/response/", outliers.outlier_case_response, name="outlier-case-response"),
    path("outliers/<int:case_id>/files/<int:event_id>/", outliers.outlier_attachment, name="outlier-attachment"),
    path("outliers/<int:case_id>/patient-rows/", outliers.outlier_case_rows, name="outlier-case-rows"),
]
