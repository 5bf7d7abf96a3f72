"""The Chinese font certificates are drawn with: Noto Sans CJK SC (SIL OFL 1.1).

It comes with ``pip install`` from the ``noto-cjk-sans-otc`` package (a 15 MB wheel with no dependencies; its
NotoSansCJK-Regular.ttc is byte for byte Debian's fonts-noto-cjk 1:20220127 file), so no font is committed
here and nothing is installed by hand. The file is a collection of ten faces; we use the Simplified Chinese
one, found by name, so that shared characters take their mainland forms.

Loading is cached: the file is 19 MB and a FreeType face per size is reused for every card. A PDF embeds a subset,
but fpdf2 parses the whole face for each document (about 0.4 s); a job drawing thousands of PDFs first cuts a
subset file holding what they will show (``subset_file``), which parses in a tiny fraction of that.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

FONT_PACKAGE = "noto_cjk_sans_otc"
FONT_FILE = "NotoSansCJK-Regular.ttc"
PREFERRED_FAMILY = "Noto Sans CJK SC"
_COLLECTION_SUFFIXES = (".ttc", ".otc")


@dataclass(frozen=True)
class FontFace:
    """One face of a font file; ``index`` picks it out of a .ttc/.otc collection (0 for a single font)."""

    path: str
    index: int = 0


def packaged_font_path() -> str:
    """Where the packaged Noto Sans CJK collection is, without importing anything."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / FONT_FILE
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(f"the certificate font {FONT_FILE} is missing: install the project "
                            f"(pip install -e .), which brings the noto-cjk-sans-otc package")


@functools.cache
def face(font_path: str | None = None) -> FontFace:
    """The face to draw with: the given file (or the packaged one); in a collection, its Simplified Chinese face."""
    path = font_path or packaged_font_path()
    if not Path(path).is_file():
        raise FileNotFoundError(f"certificate font file {path} does not exist")
    if not path.lower().endswith(_COLLECTION_SUFFIXES):
        return FontFace(path)
    families = _collection_families(path)
    if PREFERRED_FAMILY in families:
        return FontFace(path, families.index(PREFERRED_FAMILY))
    # Another collection: its first face that says it is Simplified Chinese, else its first face.
    simplified = [i for i, family in enumerate(families) if family.endswith(" SC") and "Mono" not in family]
    return FontFace(path, simplified[0] if simplified else 0)


def _collection_families(path: str) -> list[str]:
    families = []
    while True:
        try:
            family, _style = ImageFont.truetype(path, 12, index=len(families)).getname()
        except OSError:  # FreeType says there is no face with that index: the collection has ended
            return families
        families.append(family or "")


@functools.cache
def pil_font(size: int, font_path: str | None = None) -> ImageFont.FreeTypeFont:
    """The face at a pixel size, for Pillow; one FreeType object per (file, size) for the life of the process."""
    chosen = face(font_path)
    return ImageFont.truetype(chosen.path, size, index=chosen.index)


ASCII = "".join(chr(code) for code in range(0x20, 0x7F))


def subset_file(text: str, directory: Path, font_path: str | None = None) -> str:
    """A font file of the certificate face with the glyphs of ``text`` and printable ASCII, written once into
    ``directory`` under a name made from its characters, and reused; for drawing many PDFs (a face parsed per
    document is the cost). A glyph left out would print as a box: ``text`` must hold everything to be drawn
    (render.font_for_many collects it)."""
    from fontTools import subset  # only a batch job needs it
    from fontTools.ttLib import TTFont

    chars = "".join(sorted(set(ASCII) | set(text) - {"\n", "\r", "\t"}))
    chosen = face(font_path)
    digest = hashlib.sha256(f"{chosen.path}:{chosen.index}:{chars}".encode()).hexdigest()[:16]
    path = directory / f"certificate-font-{digest}.otf"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        options = subset.Options()
        options.name_IDs, options.notdef_outline, options.layout_features, options.hinting = ["*"], True, [], False
        font = TTFont(chosen.path, fontNumber=chosen.index)
        cutter = subset.Subsetter(options)
        cutter.populate(text=chars)
        cutter.subset(font)
        partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")  # two jobs at once: each its own file
        font.save(str(partial))
        os.replace(partial, path)
    return str(path)
