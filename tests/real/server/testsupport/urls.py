from django.urls import path

from . import views

urlpatterns = [
    path("health/", views.health),
    path("reset/", views.reset),
    path("calls/", views.calls),
    path("calls/reset/", views.calls_reset),
    path("fault/", views.fault),
    path("users/", views.create_user),
    path("users/<int:user_id>/delete/", views.delete_user),
    path("users/<int:user_id>/deactivate/", views.deactivate_user),
    path("oauth/client/", views.oauth_client),
    path("oauth/revoke/", views.oauth_revoke),
    path("simplejwt/revoke/", views.simplejwt_revoke),
]
