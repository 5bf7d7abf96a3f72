"""Reading a certificate's QR back out of an image, for the offline verifier (zxing-cpp, a real decoder)."""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError


def read_qr(path: Path) -> str:
    """The text of the first QR code in the image; ValueError saying why when there is none."""
    try:
        with Image.open(path) as image:
            found = zxingcpp.read_barcodes(image.convert("RGB"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"无法读取图片 (cannot read the image {path}): {error}") from None
    if not found:
        raise ValueError(f"图片中没有二维码 (no QR code found in {path})")
    return found[0].text
