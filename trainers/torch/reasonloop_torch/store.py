"""The run's object store as core/store sees it: a local folder (key = relative path) or S3 (boto3, the
bucket and prefix of an s3:// URL; endpoint and credentials from REASONLOOP_S3_* or the AWS variables, as
the TypeScript workers read them). Objects stream through files, hashed (sha256) in the same pass."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 8 << 20


@dataclass(frozen=True)
class Stored:
    size: int
    sha256: str


class ObjectStore(Protocol):
    location: str

    def get_bytes(self, key: str) -> bytes: ...

    def download(self, key: str, target: Path) -> Stored: ...

    def upload(self, key: str, source: Path) -> Stored: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...


def file_digest(path: Path) -> Stored:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return Stored(size, h.hexdigest())


class LocalFolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def download(self, key: str, target: Path) -> Stored:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(key), target)
        return file_digest(target)

    def upload(self, key: str, source: Path) -> Stored:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees half an object.
        temp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        shutil.copyfile(source, temp)
        os.replace(temp, dest)
        return file_digest(dest)

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
        temp.write_bytes(data)
        os.replace(temp, dest)


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


class S3Store:
    def __init__(self, bucket: str, prefix: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.location = f"s3://{bucket}/{prefix}".rstrip("/")
        endpoint = _env("REASONLOOP_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        path_style = (_env("REASONLOOP_S3_FORCE_PATH_STYLE") or ("true" if endpoint else "false")).lower()
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=_env("REASONLOOP_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1",
            aws_access_key_id=_env("REASONLOOP_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env("REASONLOOP_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
            aws_session_token=_env("REASONLOOP_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
            config=Config(s3={"addressing_style": "path" if path_style in ("1", "true", "yes") else "auto"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"),
        )

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def download(self, key: str, target: Path) -> Stored:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, self.prefix + key, str(target))
        return file_digest(target)

    def upload(self, key: str, source: Path) -> Stored:
        self.client.upload_file(str(source), self.bucket, self.prefix + key)
        return file_digest(source)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)


def open_store(url: str, cwd: Path | None = None) -> ObjectStore:
    """`s3://bucket/prefix`, `file:///abs/path` or a folder path (core/store/openStore.ts parseStoreUrl)."""
    if url.startswith("s3://"):
        rest = url[len("s3://"):].rstrip("/")
        bucket, _, prefix = rest.partition("/")
        return S3Store(bucket, prefix)
    if url.startswith("file://"):
        return LocalFolderStore(Path(url[len("file://"):]))
    return LocalFolderStore((cwd or Path.cwd()) / url)
