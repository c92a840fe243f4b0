from django.contrib import admin
from django.urls import include, path

from accounts.two_factor import two_factor

urlpatterns = [
    path("", include("dashboards.urls")),
    path("", include("audits.urls")),
    path("alerts/", include("alerts.urls")),
    path("api/v1/", include("api.urls")),
    path("accounts/two-factor/", two_factor, name="two-factor"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
