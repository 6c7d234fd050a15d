from django.apps import AppConfig


class TestSupportConfig(AppConfig):
    name = "testsupport"
    verbose_name = "Test hooks: request records, faults, users (tests only)"
