"""Uploaded photos: checked, re-encoded, resized and stored under random names.

An upload is accepted only when Pillow itself recognises it as JPEG, PNG or WebP (the file name
and the browser's content type are ignored), it is within the size limit in bytes
(``upload_max_bytes``) and in pixels (:data:`MAX_PIXELS`, which also stops decompression bombs
before they are decoded), and it decodes completely. It is then rotated upright from its EXIF
orientation, flattened onto white, and re-encoded as two new JPEG files — at most
:data:`MAX_SIDE` px and a :data:`THUMB_SIDE` px thumbnail — without any of the original's
metadata (EXIF, GPS position, ICC profiles, comments). Nothing the uploader sent is ever served
as it was. Files get random names in the media folder; the ``media`` table records them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from smartdistricts.services.accounts import audit
from smartdistricts.services.news import NewsError
from smartdistricts.store.base import Store, Tx

__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "THUMB_SIDE",
    "Photo",
    "media_file",
    "prepare_photo",
    "save_photo",
]

#: Formats accepted (Pillow's names); whatever the file is called.
FORMATS = ("JPEG", "PNG", "WEBP")
#: Largest image accepted, in pixels (40 megapixels: any camera, no decompression bomb).
MAX_PIXELS = 40_000_000
#: Longest side of the stored photo [px].
MAX_SIDE = 1600
#: Longest side of the thumbnail [px].
THUMB_SIDE = 600
JPEG_QUALITY = 85
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\.jpg$")


@dataclass(frozen=True, slots=True)
class Photo:
    id: int
    file_name: str
    thumb_name: str
    width: int
    height: int

    @property
    def url(self) -> str:
        return f"/media/{self.file_name}"

    @property
    def thumb_url(self) -> str:
        return f"/media/{self.thumb_name}"


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """The re-encoded photo and thumbnail (JPEG bytes) and the photo's size [px]."""

    photo: bytes
    thumb: bytes
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise NewsError("photo", f"image larger than {MAX_PIXELS} pixels", 413) from None
        except UnidentifiedImageError:
            raise NewsError(
                "photo", "not a JPEG, PNG or WebP image (whatever its name says)", 415
            ) from None
    if image.width * image.height > MAX_PIXELS:
        raise NewsError(
            "photo",
            f"image of {image.width}×{image.height} px is larger than {MAX_PIXELS} pixels",
            413,
        )
    return image


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def prepare_photo(data: bytes, *, max_bytes: int) -> PreparedPhoto:
    """Check an upload and re-encode it; raises :class:`NewsError` (field ``photo``)."""
    if not data:
        raise NewsError("photo", "the file is empty", 422)
    if len(data) > max_bytes:
        raise NewsError("photo", f"file larger than {max_bytes} bytes", 413)
    checked = _open(data)
    try:
        checked.verify()  # structure and checksums, without decoding
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise NewsError("photo", f"the image is damaged ({exc})", 422) from None
    image = _open(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombWarning) as exc:
        raise NewsError("photo", f"the image cannot be decoded ({exc})", 422) from None
    if upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    ):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = upright.convert("RGB")
    # A new image holds pixels only: no EXIF, ICC profile, comment or other metadata.
    clean = Image.new("RGB", flat.size)
    clean.paste(flat)
    clean.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return PreparedPhoto(_encode(clean), _encode(thumb), clean.width, clean.height)


def _write_new(folder: Path, data: bytes) -> str:
    """Write ``data`` under a new random name in ``folder``; return the name."""
    while True:
        name = f"{secrets.token_urlsafe(18)}.jpg"
        path = folder / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return name


def save_photo(
    store: Store,
    media_dir: str | Path,
    data: bytes,
    *,
    max_bytes: int,
    original_name: str | None = None,
    user_id: int | None = None,
) -> Photo:
    """Check, re-encode and store an upload; nothing is stored when it is refused."""
    prepared = prepare_photo(data, max_bytes=max_bytes)
    folder = Path(media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    names = [_write_new(folder, prepared.photo), _write_new(folder, prepared.thumb)]
    original = (original_name or "")[:200] or None

    def write(tx: Tx) -> int:
        photo_id = tx.insert_id(
            "INSERT INTO media (file_name, thumb_name, content_type, width, height, bytes,"
            " original_name, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                names[0],
                names[1],
                "image/jpeg",
                prepared.width,
                prepared.height,
                len(prepared.photo),
                original,
                user_id,
            ),
        )
        audit(tx, user_id, "photo.upload", f"media:{photo_id}", {"file": names[0]})
        return photo_id

    try:
        photo_id = store.write(write)
    except BaseException:
        for name in names:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
        raise
    return Photo(photo_id, names[0], names[1], prepared.width, prepared.height)


def media_file(media_dir: str | Path, name: str) -> Path | None:
    """The stored file called ``name``, or None: only our own random names are served."""
    if not _NAME.match(name):
        return None
    path = Path(media_dir) / name
    return path if path.is_file() else None
