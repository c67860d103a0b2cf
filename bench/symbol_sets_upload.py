"""Symbol set uploads end to end, the way the PostHog CLI makes them, against each object store.

1,000 chunks of 64 KiB in batches of 50: per batch `bulk_start_upload`, then the multipart POSTs to the presigned
URLs (10 at a time, the CLI's default concurrency), then `bulk_finish_upload`; over HTTP to gunicorn (2 processes
of 8 threads) with a personal API key. Once with the local store (the server itself receives the uploads) and once
with moto in server mode (its own process) as the S3 store. Printed beside the durable floor: one process writing
the same bytes file by file as the local store must (write, fsync, rename; median of 3).

    .venv/bin/python bench/symbol_sets_upload.py [--chunks 1000] [--size 65536] [--batch 50] [--concurrency 10]
                                                 [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import harness
from harness import embedded

MOTO_CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def seed(name: str) -> tuple[int, str]:
    """A project and a key that may upload to it."""
    from environments import services
    from environments.models import User

    user = User.objects.create_user(email=f"{name}@example.com", password="bench-password")
    organization = services.organization_create(name=name, owner=user)
    team = services.project_create(organization=organization, name=name, creator=user)
    _, key = services.personal_api_key_create(user=user, label="bench", scopes=["error_tracking:write"])
    return team.id, key


BOUNDARY = "bench-boundary-7d1c0f2e"


def multipart_body(fields: dict[str, str], data: bytes) -> tuple[bytes, str]:
    """The presigned POST's form, built by concatenation as a compiled client would."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]  # fmt: skip
    head = "".join(parts) + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n'
    head += "Content-Type: application/octet-stream\r\n\r\n"
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def upload_like_the_cli(
    base_url: str, team_id: int, key: str, chunks: dict[str, bytes], *, batch_size: int, concurrency: int
) -> float:
    """Seconds to upload every chunk: start, parallel POSTs and finish, batch after batch."""
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    endpoint = f"{base_url}/api/projects/{team_id}/error_tracking/symbol_sets"
    uploaders = threading.local()

    def post_file(entry: dict[str, Any], data: bytes) -> None:
        # http.client, one kept-alive connection per thread: requests spends more CPU per POST than the server
        # does, and here the client shares the server's two cores (the PostHog CLI is compiled).
        url = urlsplit(entry["presigned_url"]["url"])
        if not hasattr(uploaders, "connection"):
            uploaders.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        body, content_type = multipart_body(entry["presigned_url"]["fields"], data)
        uploaders.connection.request("POST", url.path, body=body, headers={"Content-Type": content_type})
        response = uploaders.connection.getresponse()
        text = response.read()
        assert response.status == 204, text

    chunk_ids = list(chunks)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for offset in range(0, len(chunk_ids), batch_size):
            batch = chunk_ids[offset : offset + batch_size]
            body = {
                "symbol_sets": [
                    {
                        "chunk_id": chunk_id,
                        "release_id": None,
                        "content_hash": hashlib.sha512(chunks[chunk_id]).hexdigest(),
                    }
                    for chunk_id in batch
                ]
            }
            start = api.post(f"{endpoint}/bulk_start_upload", json=body, timeout=60)
            assert start.status_code == 200, start.text
            id_map = start.json()["id_map"]
            list(pool.map(lambda item: post_file(item[1], chunks[item[0]]), id_map.items()))
            hashes = {entry["symbol_set_id"]: hashlib.sha512(chunks[c]).hexdigest() for c, entry in id_map.items()}
            finish = api.post(f"{endpoint}/bulk_finish_upload", json={"content_hashes": hashes}, timeout=60)
            assert finish.status_code == 200, finish.text
    return time.perf_counter() - started


def durable_write(chunks: dict[str, bytes], workdir: Path, *, runs: int = 3) -> float:
    """Median seconds to store the same bytes durably, one file per chunk, from one process: write to a temporary
    name, fsync, rename (what the local store does for each upload, without HTTP)."""
    timings = []
    for run in range(runs):
        target = workdir / f"durable-{run}"
        target.mkdir()
        started = time.perf_counter()
        for index, data in enumerate(chunks.values()):
            temporary = target / f".upload-{index}"
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target / str(index))
        timings.append(time.perf_counter() - started)
        shutil.rmtree(target)
    return statistics.median(timings)


@contextmanager
def moto_store() -> Iterator[dict[str, str]]:
    """moto in server mode, in a process of its own so it does not share an interpreter with the client."""
    import boto3

    port = embedded.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        embedded.wait_for_port("127.0.0.1", port, timeout=60, process=process)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, **MOTO_CREDENTIALS).create_bucket(Bucket="bench")
        yield {
            "OBJECT_STORAGE_ENDPOINT": endpoint,
            "OBJECT_STORAGE_ACCESS_KEY_ID": MOTO_CREDENTIALS["aws_access_key_id"],
            "OBJECT_STORAGE_SECRET_ACCESS_KEY": MOTO_CREDENTIALS["aws_secret_access_key"],
            "OBJECT_STORAGE_REGION": MOTO_CREDENTIALS["region_name"],
            "OBJECT_STORAGE_BUCKET": "bench",
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 chunks")
    args = parser.parse_args()
    if args.quick:
        args.chunks = 300

    chunks = {f"bench-chunk-{index:05d}": os.urandom(args.size) for index in range(args.chunks)}
    warmup = {f"warmup-chunk-{index:05d}": os.urandom(args.size) for index in range(2 * args.batch)}
    total_mib = args.chunks * args.size / (1024 * 1024)
    results: list[tuple[str, float]] = []
    with harness.scratch_database("symbol_sets") as _, tempfile.TemporaryDirectory() as workdir:
        baseline = durable_write(chunks, Path(workdir))  # first, before the uploads' write-back competes for the disk
        from symbol_sets.models import ErrorTrackingSymbolSet

        # One secret for every worker (the local store's signatures must verify in any of them); the local store
        # keeps its files in the scratch directory.
        common = {"SECRET_KEY": "bench-secret-key", "POSTHOG_CLONE_DATA_DIR": workdir}
        with moto_store() as s3_env:
            for store, env in [("local", {"OBJECT_STORAGE_ENDPOINT": ""}), ("s3 (moto)", s3_env)]:
                team_id, key = seed(store.split()[0])
                with harness.running_server(env={**common, **env}) as base_url:
                    # Untimed: the first requests of each worker import the views and open connections.
                    upload_like_the_cli(
                        base_url, team_id, key, warmup, batch_size=args.batch, concurrency=args.concurrency
                    )
                    seconds = upload_like_the_cli(
                        base_url, team_id, key, chunks, batch_size=args.batch, concurrency=args.concurrency
                    )
                finished = ErrorTrackingSymbolSet.objects.filter(team_id=team_id, content_hash__isnull=False).count()
                assert finished == args.chunks + len(warmup), f"{store}: only {finished} chunks finished"
                results.append((store, seconds))

    print(f"\n{args.chunks} chunks of {args.size // 1024} KiB ({total_mib:.1f} MiB), batches of {args.batch}, "
          f"{args.concurrency} uploads at a time")  # fmt: skip
    header = f"{'store':<14} {'seconds':>8} {'chunks/s':>9} {'MiB/s':>8} {'share of floor':>15}"
    print(header)
    print("-" * len(header))
    for store, seconds in [*results, ("durable write", baseline)]:
        print(f"{store:<14} {seconds:>8.2f} {args.chunks / seconds:>9.0f} {total_mib / seconds:>8.1f} "
              f"{baseline / seconds:>15.2f}")  # fmt: skip
    for store, seconds in results:
        harness.record("Symbol set uploads", f"{args.chunks} chunks of {args.size // 1024} KiB, {store} store",
                       args.chunks / seconds, "chunks/s", "durable write (write, fsync, rename)",
                       args.chunks / baseline, target=">= 0.25" if store == "local" else "")  # fmt: skip


if __name__ == "__main__":
    main()
