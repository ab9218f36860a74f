"""What numbot is told to do: its settings (environment and .env), the spend policy's file,
and taking the secrets out of the process environment once they are read.

    settings     Settings: every NUMBOT_, SLACK_ and FLOWYTE_ setting, validated
    policy_file  the spend policy's TOML file: read, checked, followed while numbot runs
    secret_env   secrets leave os.environ once Settings hold them
    names        which NUMBOT_/SLACK_/FLOWYTE_ names are settings (typos, did-you-mean)
    placeholders the example files' placeholders, refused
"""
