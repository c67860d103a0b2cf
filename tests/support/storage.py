"""Object storage in the tests: moto's S3 API on loopback."""

from __future__ import annotations

MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
