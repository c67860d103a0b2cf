from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "LLM evaluations"

    def ready(self) -> None:
        from evaluations.metrics import EvaluationRunsCollector
        from posthog_clone.metrics import register_collector

        register_collector(EvaluationRunsCollector)
