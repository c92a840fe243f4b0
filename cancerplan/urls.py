from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("dashboards.urls")),
    path("", include("audits.urls")),
    path("api/v1/", include("api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
