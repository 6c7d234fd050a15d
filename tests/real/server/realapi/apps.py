from django.apps import AppConfig


class RealApiConfig(AppConfig):
    name = "realapi"
    verbose_name = "The protected API and the seed-000 refresh views"
