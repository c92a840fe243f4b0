from django.urls import path

from audits import views

urlpatterns = [
    path("audits/<slug:audit_code>/releases/", views.release_list, name="release-list"),
    path("audits/<slug:audit_code>/upload/", views.upload, name="upload"),
    path("imports/<int:job_id>/", views.import_job, name="import-job"),
    path("imports/<int:job_id>/status/", views.import_job_status, name="import-job-status"),
    path("releases/<int:release_id>/", views.release_detail, name="release-detail"),
    path("releases/<int:release_id>/withdraw/", views.release_withdraw, name="release-withdraw"),
    path("releases/<int:release_id>/publish/", views.release_publish, name="release-publish"),
]
