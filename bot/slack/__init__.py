"""The Slack edge: how numbot talks with Slack, in and out.

    bolt_app  bolt's AsyncApp, with each request it dispatches measured and named
    ingress/  POST /slack/events in HTTP mode: size, deadline, signature, shape, then bolt
    auth      is the bot token good? auth.test at start and while running
    outbound  everything numbot sends leaves through here: redacted, retried on limits
    pace      keep within Slack's rate tiers without making a person wait
    retry     slack_sdk retry handlers for Slack's limits and server errors

The Slack side of the workflow (Block Kit builders, listeners, the Notifier) is handlers/.
"""
