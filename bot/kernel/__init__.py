"""The kernel: values and pure rules every other part of numbot shares, with no I/O.

    money     Decimal USD, parsed without floats, printed as people read it
    text      text people typed, made safe to store and show
    redact    secrets kept out of logs, the audit log and Slack
    outcomes  what the workflow returns: results, or refusals with a sentence
    ports     the narrow surface through which the workflow reaches people (Notifier)
    home      what one person's App Home shows, as facts
    costs     what the owned numbers keep costing: the bill, the runway, toll-free

Nothing here imports the Slack edge, the operators' side, the process or the workflow.
"""
