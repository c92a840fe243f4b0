from django.urls import path

from dashboards import views
from indicators.levels import ALLIANCE

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("audits/<slug:audit_code>/", views.audit, name="audit"),
    path("audits/<slug:audit_code>/indicators/<slug:code>/", views.indicator, name="indicator"),
    path(
        "audits/<slug:audit_code>/releases/<int:release_id>/changes/",
        views.release_changes,
        name="release-changes",
    ),
    path("audits/<slug:audit_code>/data-quality/", views.data_quality, name="data-quality"),
    path("audits/<slug:audit_code>/data-quality/status/", views.data_quality_status, name="data-quality-status"),
    path("trusts/<str:code>/", views.trust, name="trust"),
    path("trusts/<str:code>/plan/", views.plan, name="trust-plan"),
    path("trusts/<str:code>/trends/<slug:audit_code>/<slug:indicator_code>/", views.trend, name="trust-trend"),
    path(
        "trusts/<str:code>/flag-check/<slug:audit_code>/<slug:indicator_code>/",
        views.flag_check,
        name="trust-flag-check",
    ),
    path("alliances/<str:code>/", views.alliance, name="alliance"),
    path("alliances/<str:code>/act-first/", views.alliance_act_first, name="alliance-act-first"),
    path("alliances/<str:code>/print/", views.alliance_print, name="alliance-print"),
    path("trusts/<str:code>/print/", views.trust_print, name="trust-print"),
    path(
        "alliances/<str:code>/trends/<slug:audit_code>/<slug:indicator_code>/",
        views.trend,
        {"level": ALLIANCE},
        name="alliance-trend",
    ),
    path("tools/funnel/", views.funnel_tool, name="funnel-tool"),
    path("outliers/", views.outlier_cases, name="outlier-cases"),
    path("outliers/<int:case_id>/", views.outlier_case, name="outlier-case"),
    path("outliers/<int:case_id>/outcome/", views.outlier_case_advance, name="outlier-case-advance"),
    path("outliers/<int:case_id>/response/", views.outlier_case_response, name="outlier-case-response"),
    path("outliers/<int:case_id>/files/<int:event_id>/", views.outlier_attachment, name="outlier-attachment"),
    path("outliers/<int:case_id>/patient-rows/", views.outlier_case_rows, name="outlier-case-rows"),
]
