"""The running process: how `numbot` puts the parts together and keeps them running.

    wiring        build the Flowyte client, storage, service and Slack app from settings
    runtime       the running numbot: its background work (sweep, leases, token watch…)
    observe       /healthz's checks and /metrics' instruments, wired to the running numbot
    serve         serve Slack over HTTP or Socket Mode until told to stop
    startup       exit codes a supervisor understands, waiting for the database, typos
    sweep_lease   one process sweeps at a time: a lease in the database
    demo          `numbot demo`: the whole story on the sandbox
    report        `numbot report`: a month of spend as CSV

This is the top of the house: it may import every other part; nothing imports it but
bot/cli.py.
"""
