"""The command line: `python -m posthog_clone <command>` (and the `posthog-clone` script a package install puts on
the PATH) is manage.py for a checkout and an installed package alike."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posthog_clone.settings")
    if sys.argv[1:2] == ["serve"] and not {"-h", "--help"} & set(sys.argv[2:]):
        from posthog_clone.serve_lock import claim_from_command_line

        # One serve per data dir, decided before the embedded PostgreSQL (or anything else) starts.
        claim_from_command_line(sys.argv[2:])
    from posthog_clone.embedded import prepare_environment

    prepare_environment()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
