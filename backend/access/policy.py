"""Who may call what: every route of the app, by endpoint, in one table (DESIGN.md §10).

Read it as the whole policy on one screen. The roles: platform ``admin`` (everything), ``reviewer``
(methodologies, projects, organisations, factor sets), ``finance`` (listings and prices, orders, refunds, offline
payments, settlement), ``auditor`` (reads everything, runs the verifiers, changes nothing); in an organisation
``org_admin`` ⊇ ``clerk`` ⊇ ``viewer``. Citizens sign in through the mini-program; the public needs nothing.

A route missing here is refused (403) and fails tests/access/test_policy.py, which enumerates ``app.url_map``; a
second test walks every role over every route and checks 401 / 403 / 404 / allowed as this table says.
"""

from __future__ import annotations

from backend.access.rules import Citizen, Loopback, Member, OrgKind, Platform, Public, Rule, SignedIn
from backend.registry.models import ORGANISATION_KINDS

READERS = ("reviewer", "finance", "auditor")  # with admin: every platform role reads the operator API
REGISTRY = ("reviewer",)
MONEY = ("finance",)
ACCOUNTS = ()  # admin alone
AUDIT = ("auditor",)
COURTS = ("court", "procuratorate")
ORGANISERS = tuple(kind for kind in ORGANISATION_KINDS if kind not in COURTS)  # who may hold an event
PAYERS = ORGANISATION_KINDS  # every organisation has staff who owe the tree-planting duty
SCENIC = ("scenic_area",)  # who may register tourism sites

PUBLIC = Public()
PUBLIC_DOCUMENT = Public("published: registry, certificates, log, factors")

POLICY: dict[str, Rule] = {
    # --- the public: registry, certificates, transparency log, footprint calculators, health --------------------
    "static": PUBLIC,
    "healthz": PUBLIC,
    "openapi_json": PUBLIC,
    "docs.page": PUBLIC,
    "docs.static": PUBLIC,
    "jwks": PUBLIC_DOCUMENT,
    "public.list_projects": PUBLIC_DOCUMENT,
    "public.get_project": PUBLIC_DOCUMENT,
    "public.serial": PUBLIC_DOCUMENT,
    "certificates.certificate": PUBLIC_DOCUMENT,
    "certificates.certificate_file": PUBLIC_DOCUMENT,
    "verify_page.verify_page": PUBLIC_DOCUMENT,
    "transparency.signed_tree_head": PUBLIC_DOCUMENT,
    "transparency.get_entries": PUBLIC_DOCUMENT,
    "transparency.consistency_proof": PUBLIC_DOCUMENT,
    "transparency.inclusion_proof": PUBLIC_DOCUMENT,
    "events_public_api.public_event": PUBLIC_DOCUMENT,
    "tree_duty_public_api.list_rules": PUBLIC_DOCUMENT,
    "tree_duty_public_api.rule_history": PUBLIC_DOCUMENT,
    "events_public_page.public_page": PUBLIC_DOCUMENT,  # a published event's page; a draft is a 404
    "footprint.calculate_household": PUBLIC,
    "footprint.calculate_travel": PUBLIC,
    "footprint.calculate_lifestyle": PUBLIC,
    "footprint.calculate_trip": PUBLIC,
    "footprint.calculate_event": PUBLIC,
    "footprint.calculate_judicial": PUBLIC,
    "footprint.list_factors": PUBLIC_DOCUMENT,
    "footprint.list_factor_sets": PUBLIC_DOCUMENT,
    "footprint.list_species": PUBLIC_DOCUMENT,
    "footprint.get_calculation": PUBLIC_DOCUMENT,
    "footprint.airports": PUBLIC,
    "org_signup.apply": Public("rate-limited per address; a reviewer verifies"),

    # --- WeChat Pay and development helpers ------------------------------------------------------------------------
    "wechat_pay.notify": Public("WeChat Pay's signature, checked by the handler"),
    "dev_pay.pay": Loopback(),  # registered only with the fake WeChat, never in production
    "dev_pay.wx_login": Loopback(),  # likewise: the phone's wx.login, for curl

    # --- the mini-program (/api/mp/v1) ---------------------------------------------------------------------------
    "mp_api.login": PUBLIC,
    "mp_api.list_listings": PUBLIC,  # WeChat's review rules: browsing needs no login
    "mp_api.get_listing": PUBLIC,
    "mp_api.make_quote": PUBLIC,
    "mp_api.logout": Citizen(),
    "mp_api.logout_all": Citizen(),
    "mp_api.refresh": Citizen(),
    "mp_api.me": Citizen(),
    "mp_api.update_me": Citizen(),
    "mp_api.delete_me": Citizen(),
    "mp_api.save_footprint": Citizen(),
    "mp_api.list_footprints": Citizen(),
    "mp_api.delete_footprint": Citizen(),
    "mp_api.list_retirements": Citizen(),
    "mp_api.my_account": Citizen(),
    "mp_api.my_monthly": Citizen(),
    "mp_api.board": Citizen(),
    "mp_api.share_code": Citizen(),
    "mp_api.own_certificate_pdf": Citizen(),  # the handler finds only the caller's own certificates
    "mp_api.create_order": Citizen(),
    "mp_api.list_orders": Citizen(),
    "mp_api.get_order": Citizen(),
    "mp_api.refund_order": Citizen(),
    "judicial_mp_api.claim": Citizen(),  # rate-limited per citizen: a claim code is 60 bits
    "events_mp_api.participant_event": PUBLIC,  # browsing needs no login; offsetting is an order
    "tourism_mp_api.visitor_sites": PUBLIC,  # likewise; a signed-in visitor's region prefills the trip
    "tourism_mp_api.visitor_site": PUBLIC,
    "tourism_mp_api.my_perks": Citizen(),
    "tourism_mp_api.perk_offers": Citizen(),
    "tourism_mp_api.claim_perk": Citizen(),
    "tourism_mp_api.perk_qr": Citizen(),  # my own voucher's; another's is a 404
    "tree_duty_mp_api.my_year": Citizen(),
    "tree_duty_mp_api.list_members": Citizen(),
    "tree_duty_mp_api.add_member": Citizen(),
    "tree_duty_mp_api.remove_member": Citizen(),

    # --- operators (/api/admin/v1) ----------------------------------------------------------------------------------
    "admin_api.list_methodologies": Platform(READERS),
    "admin_api.create_methodology": Platform(REGISTRY),
    "admin_api.list_organisations": Platform(READERS),
    "admin_api.get_organisation": Platform(READERS),
    "admin_api.create_organisation": Platform(REGISTRY),
    "admin_api.decide_organisation": Platform(REGISTRY),
    "admin_api.list_projects": Platform(READERS),
    "admin_api.get_project": Platform(READERS),
    "admin_api.create_project": Platform(REGISTRY),
    "admin_api.decide_project": Platform(REGISTRY),
    "admin_api.create_batch": Platform(REGISTRY),
    "admin_api.get_batch": Platform(READERS),
    "admin_api.serial": Platform(READERS),
    "admin_api.list_accounts": Platform(READERS),
    "admin_api.list_transfers": Platform(READERS),
    "admin_api.get_transfer": Platform(READERS),
    "admin_api.get_retirement": Platform(READERS),
    "admin_api.make_transfer": Platform(MONEY),
    "admin_api.make_reservation": Platform(MONEY),
    "admin_api.post_reservation": Platform(MONEY),
    "admin_api.void_reservation": Platform(MONEY),
    "admin_api.make_retirement": Platform(MONEY),
    "admin_api.make_cancellation": Platform(REGISTRY),  # credits found invalid are cancelled by the registry
    "admin_api.correct_transfer": Platform(ACCOUNTS),  # rewrites what someone holds: admin only
    "admin_api.ledger_check": Platform(READERS),
    "admin_api.list_listings": Platform(READERS),
    "admin_api.create_listing": Platform(MONEY),
    "admin_api.change_listing": Platform(MONEY),
    "admin_api.list_orders": Platform(READERS),
    "admin_api.resolve_order": Platform(MONEY),
    "admin_api.record_offline_payment": Platform(MONEY),
    "admin_api.revoke_certificate": Platform(REGISTRY),
    "admin_api.list_audit": Platform(AUDIT),
    "admin_api.list_staff": Platform(AUDIT),
    "admin_api.get_staff": Platform(AUDIT),
    "admin_api.set_staff_disabled": Platform(ACCOUNTS),
    "admin_api.grant_platform_role": Platform(ACCOUNTS),
    "admin_api.revoke_platform_role": Platform(ACCOUNTS),
    "admin_api.reset_staff_totp": Platform(ACCOUNTS),
    "tree_duty_admin_api.create_rule": Platform(REGISTRY),  # a reviewer changes the tree-duty rules
    "tree_duty_admin_api.revise_rule": Platform(REGISTRY),
    "tree_duty_admin_api.export_vouchers": Platform(READERS),  # for the greening committee
    "tree_duty_admin_api.recognise_vouchers": Platform(REGISTRY),
    "admin_api.list_platform_invitations": Platform(AUDIT),
    "admin_api.invite_platform_staff": Platform(ACCOUNTS),
    "admin_api.revoke_platform_invitation": Platform(ACCOUNTS),

    # --- any staff account: itself (/api/staff/v1) ------------------------------------------------------------------
    "staff_api.whoami": SignedIn(),
    "staff_api.list_tokens": SignedIn(),
    "staff_api.revoke_token": SignedIn(),  # the handler finds only the caller's own tokens

    # --- organisations' people (/api/org/v1) ------------------------------------------------------------------------
    "org_api.get_organisation": Member("viewer", READERS, acting=False),
    "org_api.resubmit": Member("org_admin", acting=False),  # a rejected application, corrected
    "org_api.list_members": Member("viewer", READERS, acting=False),
    "org_api.change_member_role": Member("org_admin"),
    "org_api.remove_member": Member("org_admin"),
    "org_api.list_invitations": Member("org_admin", AUDIT, acting=False),
    "org_api.invite_member": Member("org_admin"),
    "org_api.revoke_invitation": Member("org_admin"),

    # --- courts and procuratorates: 碳汇+生态司法 (/api/org/v1/cases; the handler scopes each case) --------------------
    "judicial_org_api.open_case": OrgKind("clerk", COURTS),
    "judicial_org_api.list_cases": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_org_api.export_cases": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_org_api.get_case": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_org_api.extend_case": OrgKind("clerk", COURTS),
    "judicial_org_api.close_case": OrgKind("clerk", COURTS),
    "judicial_org_api.place_offline_order": OrgKind("clerk", COURTS),
    "judicial_org_api.withdraw_order": OrgKind("clerk", COURTS),
    "judicial_org_api.claim_code_image": OrgKind("viewer", COURTS, acting=False),

    # --- event organisers: 碳汇+大型活动 (/api/org/v1/events; the handler scopes each event) -----------------------
    "events_org_api.create_event": OrgKind("clerk", ORGANISERS),
    "events_org_api.list_events": OrgKind("viewer", ORGANISERS, READERS, acting=False),
    "events_org_api.get_event": OrgKind("viewer", ORGANISERS, READERS, acting=False),
    "events_org_api.put_plan": OrgKind("clerk", ORGANISERS),
    "events_org_api.put_final": OrgKind("clerk", ORGANISERS),
    "events_org_api.place_order": OrgKind("clerk", ORGANISERS),
    "events_org_api.get_order": OrgKind("viewer", ORGANISERS, acting=False),
    "events_org_api.withdraw_order": OrgKind("clerk", ORGANISERS),
    "events_org_api.order_qr": OrgKind("viewer", ORGANISERS, acting=False),
    "events_org_api.participant_code": OrgKind("viewer", ORGANISERS, acting=False),

    # --- scenic areas: 碳汇+旅游 (/api/org/v1/sites; the handler scopes each site) --------------------------------
    "tourism_org_api.create_site": OrgKind("clerk", SCENIC),
    "tourism_org_api.list_sites": OrgKind("viewer", SCENIC, READERS, acting=False),
    "tourism_org_api.get_site": OrgKind("viewer", SCENIC, READERS, acting=False),
    "tourism_org_api.change_site": OrgKind("clerk", SCENIC),
    "tourism_org_api.gate_code": OrgKind("viewer", SCENIC, acting=False),
    "tourism_org_api.create_offer": OrgKind("clerk", SCENIC),  # a platform admin defines one on a site's behalf
    "tourism_org_api.list_offers": OrgKind("viewer", SCENIC, READERS, acting=False),
    "tourism_org_api.change_offer": OrgKind("clerk", SCENIC),
    "tourism_org_api.redeem": OrgKind("clerk", SCENIC),  # at the gate; another scenic area's voucher: 409
    "tourism_org_api.site_stats": OrgKind("viewer", SCENIC, READERS, acting=False),

    # --- any organisation: its staff's tree-planting duty (/api/org/v1/tree-duty; the handler scopes each list) ------
    "tree_duty_org_api.upload_roster": OrgKind("clerk", PAYERS),
    "tree_duty_org_api.list_rosters": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_org_api.get_roster": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_org_api.place_roster_order": OrgKind("clerk", PAYERS),
    "tree_duty_org_api.withdraw_roster": OrgKind("clerk", PAYERS),
    "tree_duty_org_api.get_roster_order": OrgKind("viewer", PAYERS, acting=False),
    "tree_duty_org_api.roster_order_qr": OrgKind("viewer", PAYERS, acting=False),
    "tree_duty_org_api.roster_vouchers_csv": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_org_api.request_vouchers_zip": OrgKind("viewer", PAYERS, READERS, acting=False),  # builds a file
    "tree_duty_org_api.roster_vouchers_zip": OrgKind("viewer", PAYERS, READERS, acting=False),

    # --- pages: signing in, one's own account ------------------------------------------------------------------------
    "staff_pages.static": PUBLIC,
    "staff_pages.sign_in": Public("throttled per account and address; CSRF-protected"),
    "staff_pages.second_factor": Public("continues a sign-in whose password was right"),
    "staff_pages.sign_out": PUBLIC,
    "staff_pages.invitation": Public("the one-time link is the credential"),
    "staff_pages.account": SignedIn(enrolling=True),
    "staff_pages.change_password": SignedIn(),
    "staff_pages.enrol_totp": SignedIn(enrolling=True),
    "staff_pages.create_token": SignedIn(),
    "staff_pages.revoke_token": SignedIn(),
    "staff_pages.end_sessions": SignedIn(),

    # --- pages: the operator console (/admin/) and the organisation portal (/org/) -----------------------------------
    "admin_pages.home": Platform(READERS),
    "admin_pages.decide_organisation": Platform(REGISTRY),
    "admin_orders.list": Platform(READERS),
    "admin_orders.order": Platform(READERS),
    "admin_orders.resolve": Platform(MONEY),
    "admin_orders.record_offline_payment": Platform(MONEY),
    "admin_settlement.month": Platform(READERS),
    "admin_settlement.statement": Platform(READERS),
    "admin_settlement.mark_paid": Platform(MONEY),
    "admin_exports.ask": Platform(READERS),  # and who may read the list exported (admin/exports.py asks the table)
    "admin_exports.export": Platform(READERS),
    "admin_exports.download": Platform(READERS),
    "admin_verifications.overview": Platform(READERS),
    "admin_verifications.run": Platform(READERS),
    "admin_verifications.run_now": Platform(READERS),  # the verifiers change nothing; the auditor runs them
    "admin_organisations.list_organisations": Platform(READERS),
    "admin_organisations.organisation": Platform(READERS),
    "admin_organisations.decide": Platform(REGISTRY),  # as admin_api.decide_organisation
    "admin_organisations.staff": Platform(AUDIT),  # as admin_api.list_staff: not every reader sees the accounts
    "admin_organisations.set_disabled": Platform(ACCOUNTS),
    "admin_organisations.grant_role": Platform(ACCOUNTS),
    "admin_organisations.revoke_role": Platform(ACCOUNTS),
    "admin_organisations.reset_totp": Platform(ACCOUNTS),
    "admin_registry.list_methodologies": Platform(READERS),  # the registry section: as admin_api's registry routes
    "admin_registry.create_methodology": Platform(REGISTRY),
    "admin_registry.list_projects": Platform(READERS),
    "admin_registry.create_project": Platform(REGISTRY),
    "admin_registry.project_page": Platform(READERS),
    "admin_registry.decide_project": Platform(REGISTRY),
    "admin_registry.issue_batch": Platform(REGISTRY),
    "admin_registry.batch_page": Platform(READERS),
    "admin_registry.list_listings": Platform(READERS),
    "admin_registry.create_listing": Platform(MONEY),
    "admin_registry.change_listing": Platform(MONEY),
    "admin_certificates.list_certificates": Platform(READERS),
    "admin_certificates.certificate_page": Platform(READERS),
    "admin_certificates.revoke": Platform(REGISTRY),  # as admin_api.revoke_certificate
    "admin_audit.list_events": Platform(AUDIT),  # as admin_api.list_audit
    "admin_factors.sets": Platform(READERS),  # footprint factor sets (the public reads them too, through the API)
    "admin_factors.factor_set": Platform(READERS),
    "admin_factors.diff": Platform(READERS),
    "admin_factors.data_file": Platform(READERS),
    "admin_factors.load": Platform(REGISTRY),  # a reviewer loads the next factor set
    "org_pages.home": SignedIn(),
    "org_pages.apply": Public("rate-limited per address; a reviewer verifies"),
    "org_pages.members": Member("viewer", READERS, acting=False),
    "org_pages.invite": Member("org_admin"),
    "org_pages.change_role": Member("org_admin"),
    "org_pages.remove": Member("org_admin"),
    "org_pages.revoke_invitation": Member("org_admin"),

    # --- pages: a court's cases (/org/cases; the handler scopes each case, as the JSON does) --------------------------
    "judicial_pages.list_cases": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_pages.export_cases": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_pages.case_page": OrgKind("viewer", COURTS, READERS, acting=False),
    "judicial_pages.claim_code_image": OrgKind("viewer", COURTS, acting=False),
    "judicial_pages.new_case": OrgKind("clerk", COURTS),
    "judicial_pages.extend": OrgKind("clerk", COURTS),
    "judicial_pages.close": OrgKind("clerk", COURTS),

    # --- pages: an organiser's events (/org/events; the handler scopes each event, as the JSON does) --------------------
    "events_pages.static": PUBLIC,  # the pages' stylesheet, chart script and the vendored ECharts
    "events_pages.list_events": OrgKind("viewer", ORGANISERS, READERS, acting=False),
    "events_pages.event_page": OrgKind("viewer", ORGANISERS, READERS, acting=False),
    "events_pages.participant_code": OrgKind("viewer", ORGANISERS, acting=False),
    "events_pages.new_event": OrgKind("clerk", ORGANISERS),

    # --- pages: an organisation's staff lists (/org/tree-duty; the handler scopes each list, as the JSON does) -------
    "tree_duty_pages.list_rosters": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_pages.upload": OrgKind("clerk", PAYERS),
    "tree_duty_pages.roster_page": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_pages.pay": OrgKind("clerk", PAYERS),
    "tree_duty_pages.withdraw": OrgKind("clerk", PAYERS),
    "tree_duty_pages.order_qr": OrgKind("viewer", PAYERS, acting=False),
    "tree_duty_pages.vouchers_csv": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_pages.request_zip": OrgKind("viewer", PAYERS, READERS, acting=False),
    "tree_duty_pages.vouchers_zip": OrgKind("viewer", PAYERS, READERS, acting=False),

    # --- pages: a scenic area's sites and perks (/org/sites; the handler scopes each site, as the JSON does) ---------
    "tourism_pages.list_sites": OrgKind("viewer", SCENIC, READERS, acting=False),
    "tourism_pages.site_page": OrgKind("viewer", SCENIC, READERS, acting=False),
    "tourism_pages.gate_code": OrgKind("viewer", SCENIC, acting=False),
    "tourism_pages.create_offer": OrgKind("clerk", SCENIC),  # a platform admin defines one on a site's behalf
    "tourism_pages.withdraw_offer": OrgKind("clerk", SCENIC),
    "tourism_pages.redeem": OrgKind("clerk", SCENIC),  # at the gate; another scenic area's voucher: 409
}
