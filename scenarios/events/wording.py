"""How an event reads to people: kinds and states in Chinese with English alongside."""

KIND_LABELS = {"conference": "会议 (conference)", "forum": "论坛 (forum)", "exhibition": "展览 (exhibition)",
               "show": "演出 (show)", "match": "赛事 (match)", "other": "其他 (other)"}
STATUS_LABELS = {"draft": "草稿 (draft)", "planned": "已制定计划 (planned)", "accounted": "已核算 (accounted)",
                 "neutral": "已碳中和 (neutral)", "overdue": "逾期未中和 (overdue)"}
