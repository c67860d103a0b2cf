import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from environments import services
from environments.scopes import VALID_SCOPES


class Command(BaseCommand):
    help = (
        "Create (or reuse) a user, organization and project, and mint a new personal API key. "
        "Re-running with the same names reuses them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--organization", required=True, help="organization name")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--scopes", nargs="+", default=["*"], help="key scopes, e.g. '*' or query:read")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        invalid = [scope for scope in options["scopes"] if scope not in VALID_SCOPES]
        if invalid:
            raise CommandError(f"Invalid scope: {invalid[0]}")
        result = services.bootstrap(
            email=options["email"],
            password=options["password"],
            organization_name=options["organization"],
            project_name=options["project"],
            scopes=options["scopes"],
        )
        summary = {
            "user_email": result.user.email,
            "organization_id": str(result.organization.id),
            "project_id": result.team.id,
            "project_api_token": result.team.api_token,
            "personal_api_key": result.personal_api_key,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            for name, value in summary.items():
                self.stdout.write(f"{name}: {value}")
