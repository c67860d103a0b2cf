from django.apps import AppConfig


class SymbolSetsConfig(AppConfig):
    name = "symbol_sets"
    verbose_name = "Error-tracking symbol sets"
