"""Download one file over HTTP(S): resumed after a cut, verified, renamed into place only when whole.

A download streams into ``<file>.part``; a cut connection resumes it with an HTTP Range request
(restarting when the server ignores or misplaces the range), a checksum that does not match
discards it, and only a finished, verified file is renamed to its name, with the digest we
computed beside it (``<file>.sha256``), so a rerun never takes half a file for a whole one.
``pipeline.fetch`` decides what to download and unpacks it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from pipeline.fetch_errors import FetchError
from pipeline.sources import DownloadFile

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds; offline must fail at once, not after minutes of retries
READ_TIMEOUT = 60.0
CHUNK = 1 << 20


class DownloadError(FetchError):
    def __init__(self, message: str, url: str = "", reason: str = ""):
        super().__init__(message)
        self.url = url
        self.reason = reason or message


class ChecksumError(DownloadError):
    pass


class _Interrupted(Exception):
    """The body stopped before its end; `.part` holds what arrived."""

    def __init__(self, received: int, reason: str):
        super().__init__(reason)
        self.received = received




def _path_hint(dataset: str | None) -> str:
    key = dataset or "<name>"
    return (
        f"To use a copy obtained another way, set `datasets.{key}.source: path` and "
        f"`datasets.{key}.path: <folder>` in the config (see pipeline/sources.py for the layout)."
    )


def digest_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            hasher.update(block)
    return hasher.hexdigest()


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a `Content-Range: bytes a-b/n` (or `bytes */n`) header."""
    if not header or not header.startswith("bytes "):
        return None, None
    span, _, total = header[6:].partition("/")
    first = int(span.split("-")[0]) if span and span != "*" else None
    return first, (int(total) if total.isdigit() else None)


def _stream(
    session: requests.Session,
    url: str,
    part: Path,
    timeouts: tuple[float, float],
    progress: bool,
    dataset: str | None,
) -> str:
    """Bring `part` to the full body of `url`, resuming what it holds; return its sha256."""
    for _ in range(2):  # the second pass only after throwing away an unusable partial file
        offset = part.stat().st_size if part.exists() else 0
        # identity: a server's on-the-fly gzip would change the bytes the checksum is about
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            response = session.get(url, stream=True, timeout=timeouts, headers=headers, allow_redirects=True)
        except requests.RequestException as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise DownloadError(
                f"cannot reach {url} ({reason}). The machine may be offline or the host down. "
                + _path_hint(dataset),
                url,
                reason,
            ) from exc
        with response:
            status = response.status_code
            first, total = _content_range(response.headers.get("Content-Range"))
            if offset and status == 416:
                if total == offset:  # the partial file already holds the whole body
                    return sha256_file(part)
                log.warning("%s: server refused to resume at byte %d; restarting", url, offset)
                part.unlink()
                continue
            if offset and status == 206 and first != offset:
                log.warning("%s: server resumed at byte %s, not %d; restarting", url, first, offset)
                part.unlink()
                continue
            if status not in (200, 206):
                reason = f"HTTP {status} {response.reason}"
                raise DownloadError(f"cannot download {url}: {reason}. " + _path_hint(dataset), url, reason)
            length = response.headers.get("Content-Length")
            if status == 206:
                start, mode = offset, "ab"
                if total is None and length is not None:
                    total = offset + int(length)
            else:
                if offset:
                    log.warning("%s: server ignored the Range request; downloading from the start", url)
                start, mode = 0, "wb"
                total = int(length) if length is not None else None
            hasher = hashlib.sha256()
            if mode == "ab":
                with open(part, "rb") as fh:
                    while block := fh.read(CHUNK):
                        hasher.update(block)
            received = 0
            bar = tqdm(
                total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                desc=part.name.removesuffix(".part"), disable=not progress, mininterval=1.0,
            )
            try:
                with open(part, mode) as fh, bar:
                    # raw bytes as sent: no transparent decoding (see Accept-Encoding above)
                    for chunk in response.raw.stream(CHUNK, decode_content=False):
                        fh.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                raise _Interrupted(received, f"{type(exc).__name__}: {exc}") from exc
            if total is not None and start + received < total:
                raise _Interrupted(received, f"connection closed at byte {start + received} of {total}")
            return hasher.hexdigest()
    raise DownloadError(f"cannot download {url}: the server does not serve a consistent file. "
                        + _path_hint(dataset), url, "inconsistent Range answers")


def download(
    url: str,
    dest: Path | str,
    sha256: str | None = None,
    *,
    dataset: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    resume_attempts: int = 3,
    session: requests.Session | None = None,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest`, resuming `dest.part`, and verify `sha256` when given.

    `dest` appears only complete and verified; its computed digest is kept beside it in
    `<dest>.sha256`. A connection cut mid-body is resumed with a Range request up to
    `resume_attempts` times (and on the next call, from what `.part` holds). A checksum
    mismatch deletes the partial file. `dataset` names the config key in error messages.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest_file = digest_path(dest)
    if dest.exists():
        if sha256 is None:
            return dest
        recorded = digest_file.read_text().strip() if digest_file.exists() else sha256_file(dest)
        if recorded == sha256.lower():
            digest_file.write_text(recorded + "\n")
            return dest
        log.warning("%s: digest %s is not the expected %s; downloading again", dest, recorded, sha256)
        dest.unlink()
        digest_file.unlink(missing_ok=True)

    part = dest.with_name(dest.name + ".part")
    own_session = session is None
    session = session or requests.Session()
    try:
        attempts = 0
        while True:
            try:
                digest = _stream(session, url, part, (connect_timeout, read_timeout), progress, dataset)
                break
            except _Interrupted as exc:
                held = part.stat().st_size if part.exists() else 0
                if attempts >= resume_attempts or exc.received == 0:
                    raise DownloadError(
                        f"download of {url} was interrupted ({exc}); {held} bytes are kept in {part} "
                        f"and the next run resumes from there. " + _path_hint(dataset),
                        url,
                        str(exc),
                    ) from exc
                attempts += 1
                log.warning("%s: interrupted at byte %d (%s); resuming", url, held, exc)
    finally:
        if own_session:
            session.close()

    if sha256 is not None and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {digest}. "
            f"The downloaded file was deleted; nothing was kept. " + _path_hint(dataset),
            url,
            "checksum mismatch",
        )
    digest_file.write_text(digest + "\n")
    os.replace(part, dest)
    return dest


def download_any(spec: DownloadFile, dest: Path, dataset: str, **kwargs) -> str:
    """Try the official URL, then the mirrors; return the URL that served the file."""
    urls = (spec.url, *spec.mirrors)
    failures: list[str] = []
    part = dest.with_name(dest.name + ".part")
    for i, url in enumerate(urls):
        if i and spec.sha256 is None:
            part.unlink(missing_ok=True)  # without a digest, never splice bytes from two hosts
        try:
            download(url, dest, spec.sha256, dataset=dataset, **kwargs)
            return url
        except ChecksumError:
            raise
        except DownloadError as exc:
            failures.append(f"{url} ({exc.reason})")
            log.warning("%s: %s", url, exc.reason)
    raise DownloadError(
        f"cannot download {spec.name} for dataset '{dataset}' from any of: " + "; ".join(failures) + ". "
        + _path_hint(dataset),
        spec.url,
        "all URLs failed",
    )
