"""The door in front of bolt in HTTP mode: everything Slack POSTs to /slack/events.

    ingress = SlackIngress(runtime.app, signing_secret)
    Route("/slack/events", ingress.handle, methods=["POST"])

What reaches bolt was read whole within the size limit and the deadline, carries Slack's
valid, fresh signature over its exact bytes, is UTF-8, and is in a shape bolt cannot
misread. Anything else is answered here, in this order:

    413  Content-Length over the limit                          (nothing read)
    200  Slack's unsigned ssl_check (`ssl_check=1&token=…`)     (read: ≤ 512 bytes declared)
    401  signature headers missing, malformed or stale          (nothing read, unless a
                                                                 small form: see above)
    while reading:
      408  the body not complete within the read deadline
      413  the body grew past the limit
      503  too many bodies held at once
      400  the client went away
    401  the signature does not match the body
    400  not UTF-8; JSON that is not an object; a `payload` that is not a JSON object

Every refusal closes the connection and logs one line: the reason and the client's address,
never the body.

Socket Mode never comes this way: Slack authenticates the websocket instead, and there is no
signing secret.
"""

from bot.slack.ingress.endpoint import SlackIngress
from bot.slack.ingress.reading import Limits

__all__ = ["Limits", "SlackIngress"]
