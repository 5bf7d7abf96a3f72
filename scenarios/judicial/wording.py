"""How a case reads to people: causes and states in Chinese with English alongside, the public case number."""

from __future__ import annotations

from scenarios.judicial import case_no as case_numbers
from scenarios.judicial.models import JudicialCase

CAUSE_LABELS = {"illegal_felling": "滥伐、盗伐林木 (illegal felling)", "fire": "失火、放火毁林 (forest fire)",
                "occupation": "非法占用林地 (occupying forest land)", "other": "其他 (other)"}
STATUS_LABELS = {"ordered": "待缴纳 (ordered)", "partially_paid": "部分缴纳 (partially paid)",
                 "restored": "已修复 (restored)", "closed": "已结案 (closed)", "overdue": "已逾期 (overdue)"}


def public_case_no(case: JudicialCase) -> str:
    """Masked to court and year — (2024)川0129刑初***号 — unless the court chose to publish it in full."""
    return case.case_no if case.publish_case_no else case_numbers.mask(case.case_no)
