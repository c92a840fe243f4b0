from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.subscriptions, name="subscriptions"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("unsubscribe/", views.unsubscribe, name="unsubscribe-own"),
    path("unsubscribe/<str:token>/", views.unsubscribe_link, name="unsubscribe"),
]
