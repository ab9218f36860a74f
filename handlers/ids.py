"""Every Slack identifier numbot answers to, in one place.

manifest.yml, the Block Kit builders and the listeners all read from here, and
tests/test_manifest.py fails when they disagree.
"""

COMMAND = "/numbers"

# Buttons and menus (block_actions). Labels live with the builders.
RESERVE = "numbers_reserve"
REQUEST_PURCHASE = "numbers_request_purchase"
APPROVE = "numbers_approve"
REJECT = "numbers_reject"
PUBLISH = "numbers_publish"
ASSIGN_AGENT = "numbers_assign_agent"

ACTION_IDS = (RESERVE, REQUEST_PURCHASE, APPROVE, REJECT, PUBLISH, ASSIGN_AGENT)

# Modals (view_submission).
PURCHASE_REASON_VIEW = "numbers_purchase_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

VIEW_CALLBACK_IDS = (PURCHASE_REASON_VIEW,)
