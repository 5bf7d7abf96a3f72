"""The console's tests reuse the shop, the citizens and the fake WeChat of the mini-program's tests, the people and
password of the staff tests, and the court of the judicial ones."""

from tests.miniprogram.conftest import citizen, fake_wechat, shop  # noqa: F401  (fixtures)
from tests.scenarios.judicial.conftest import county_listing, nanjing_court  # noqa: F401  (fixtures)
from tests.staff.conftest import password_hash  # noqa: F401  (the fixture)
