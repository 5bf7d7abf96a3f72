"""统一社会信用代码 (unified social credit identifier), GB 32100-2015: 18 characters from a 31-character set (no
I, O, S, V, Z); the 18th is a check character over the first 17 with weights 3^i mod 31 (§4 of the standard).

Some codes issued by early pilot regions before the standard fail the check; they cannot sign up by themselves
and are registered by an operator (who may leave the code out).
"""

from __future__ import annotations

import re

from backend.errors import InvalidInput

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    return bool(PATTERN.fullmatch(code)) and check_character(code[:17]) == code[17]


def check(raw: str, field: str = "credit_code") -> str:
    """The code in upper case, or InvalidInput saying whether the form or the check character is wrong."""
    code = raw.strip().upper()
    if not PATTERN.fullmatch(code):
        raise InvalidInput(field, "统一社会信用代码应为 18 位，不含 I、O、S、V、Z "
                                  "(18 characters of the GB 32100-2015 set)")
    if check_character(code[:17]) != code[17]:
        raise InvalidInput(field, "统一社会信用代码校验不通过，请核对是否输错 "
                                  "(the check character does not match: a character is mistyped)",
                           code="credit_code_check")
    return code
