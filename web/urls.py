from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.report_list, name="report-list"),
    path("reports/new/", views.report_new, name="report-new"),
    path("reports/<uuid:report_id>/", views.report_page, name="report-page"),
    path("reports/<uuid:report_id>/compare/", views.report_compare, name="report-compare"),
    path("reports/<uuid:report_id>/retry/", views.report_retry, name="report-retry"),
    path("reports/<uuid:report_id>/cancel/", views.report_cancel, name="report-cancel"),
    path("reports/<uuid:report_id>/share/", views.share_create, name="share-create"),
    path("reports/<uuid:report_id>/share/<int:link_id>/revoke/", views.share_revoke, name="share-revoke"),
    path("reports/<uuid:report_id>/files/<path:key>", views.report_file, name="report-file"),
    path(
        "reports/<uuid:report_id>/players/<int:player_id>/pizza.png", views.report_pizza, name="report-pizza"
    ),
    path("players/<int:player_id>/", views.player_page, name="player-page"),
    path("share/<str:token>/", views.share_page, name="share-page"),
    path("share/<str:token>/data/", views.share_data, name="share-data"),
    path("share/<str:token>/files/<path:key>", views.share_file, name="share-file"),
    path("share/<str:token>/players/<int:player_id>/pizza.png", views.share_pizza, name="share-pizza"),
]
