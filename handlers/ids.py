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
RETRY_PURCHASE = "numbers_retry_purchase"  # an approved purchase, once the wallet is topped up
PUBLISH = "numbers_publish"
ASSIGN_AGENT = "numbers_assign_agent"
# Paging. Previous and Next sit side by side in one actions block, where Slack wants each
# action_id once, so each direction has its own id; the button's value names the page.
SEARCH_PREVIOUS = "numbers_search_previous"
SEARCH_NEXT = "numbers_search_next"
LIST_PREVIOUS = "numbers_list_previous"
LIST_NEXT = "numbers_list_next"
IDLE_PREVIOUS = "numbers_idle_previous"
IDLE_NEXT = "numbers_idle_next"
SEARCH_NEARBY = "numbers_search_nearby"  # no exact vanity match: the same search, widened
OPEN_SEARCH = "numbers_open_search"  # a "Search numbers" button: opens the search modal
REQUEST_RELEASE = "numbers_request_release"  # an idle number: ask to give it back

ACTION_IDS = (
    RESERVE,
    REQUEST_PURCHASE,
    APPROVE,
    REJECT,
    RETRY_PURCHASE,
    PUBLISH,
    ASSIGN_AGENT,
    SEARCH_PREVIOUS,
    SEARCH_NEXT,
    SEARCH_NEARBY,
    LIST_PREVIOUS,
    LIST_NEXT,
    IDLE_PREVIOUS,
    IDLE_NEXT,
    OPEN_SEARCH,
    REQUEST_RELEASE,
)

# Menus whose options numbot serves (block_suggestion, from an external_select): the agent
# menu becomes one past the 100 options a static menu holds.
OPTIONS_ACTION_IDS = (ASSIGN_AGENT,)

# Modals (view_submission).
PURCHASE_REASON_VIEW = "numbers_purchase_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

# The search modal: one input block per filter. Each block_id is the SearchQuery field it
# fills, so a validation error lands on its field by name; every element's action_id is
# SEARCH_INPUT (Slack wants it unique within its block only).
SEARCH_VIEW = "numbers_search"
SEARCH_INPUT = "search_input"
SEARCH_FIELDS = (
    "area_code",
    "number_type",
    "locality",
    "administrative_area",
    "features",
    "contains",
    "starts_with",
    "ends_with",
    "country",
    "best_effort",
    "limit",
)

# Reject (or, for the requester, cancel) with an optional reason.
REJECT_VIEW = "numbers_reject_reason"

VIEW_CALLBACK_IDS = (PURCHASE_REASON_VIEW, SEARCH_VIEW, REJECT_VIEW)

# Events (Events API, over HTTP or Socket Mode): the manifest's bot_events.
APP_HOME_OPENED = "app_home_opened"  # someone opened numbot's Home tab: draw it for them
# An approvers' user group gained or lost members: applied at once (bot/workflow/approvers.py).
USERGROUP_MEMBERS_CHANGED = "subteam_members_changed"
EVENTS = (APP_HOME_OPENED, USERGROUP_MEMBERS_CHANGED)
