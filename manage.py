#!/usr/bin/env python
"""Django's command-line utility, for a checkout: the same as `python -m posthog_clone`."""

from posthog_clone.__main__ import main

if __name__ == "__main__":
    main()
