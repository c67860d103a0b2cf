from django.urls import path

from pages import views

app_name = "pages"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("evaluations/", views.evaluation_list, name="evaluation_list"),
    path("evaluations/<str:evaluation_id>/", views.evaluation_detail, name="evaluation_detail"),
]
