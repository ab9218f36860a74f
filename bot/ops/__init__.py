"""What numbot's operators see, and how it protects itself under load.

health       what /healthz says (database writable, token accepted, socket up), and why
metrics      the Prometheus instruments read at GET /metrics
observe      /healthz's checks and /metrics' instruments, wired to one running numbot
web          the GET /healthz and GET /metrics routes
logs         one line a record, redacted, as text or JSON
log_context  who and what a log line is about (user, action, request id)
loop_lag     how far behind the event loop runs
workload     how much work is taken on, and when to answer "busy" instead
"""
