# numbot's container image: `docker build -t numbot .` from a checkout of this repository.
#
# Two stages. The first builds numbot's wheel and installs it, with its dependencies, into a
# virtualenv at /opt/numbot; the second is a fresh slim Python with only that virtualenv
# copied in: no compiler, no pip cache, no source tree. The same base tag in both stages, so
# the virtualenv's interpreter path (/usr/local/bin/python3.11) exists in the second.
#
# No secret is baked in: Slack's tokens, the signing secret, the Flowyte key and the audit
# key come from the environment at `docker run` (--env-file) or from compose's env_file.
# See docs/operations.md and deploy/compose.yaml.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps the rest, tests and .venv included,
# out of the build context).
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage

# `.[postgres]`: psycopg 3 for NUMBOT_DATABASE_URL=postgresql://…, so one image runs either
# engine.
# pip builds numbot's wheel from /src and installs it (not editable) into the venv.
RUN python -m venv /opt/numbot \
 && /opt/numbot/bin/pip install ".[postgres]" \
 && /opt/numbot/bin/numbot --help > /dev/null


FROM ${PYTHON_IMAGE}

# Nothing is added to the base with apt: the postgres extra is psycopg[binary], whose wheel
# carries its own libpq.

# A fixed numeric user, so `runAsNonRoot` checks (Kubernetes) and host bind mounts
# (`chown 10001:10001 /srv/numbot`) can name it. No login shell, no home to write in.
RUN groupadd --system --gid 10001 numbot \
 && useradd --system --uid 10001 --gid numbot --no-create-home \
      --home-dir /var/lib/numbot --shell /usr/sbin/nologin numbot \
 && install -d -o numbot -g numbot -m 0700 /var/lib/numbot

COPY --from=build /opt/numbot /opt/numbot

ENV PATH=/opt/numbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBOT_DB=/var/lib/numbot/numbot.db \
    NUMBOT_HOST=0.0.0.0 \
    PORT=3000

# The SQLite database (and its -wal and -shm files) live here. With PostgreSQL
# (NUMBOT_DATABASE_URL) nothing is written here, and the volume stays empty.
VOLUME ["/var/lib/numbot"]
WORKDIR /var/lib/numbot

# HTTP mode: POST /slack/events, GET /healthz, GET /metrics. In Socket Mode numbot still
# listens on PORT for /healthz and /metrics, which the HEALTHCHECK needs.
EXPOSE 3000

USER 10001:10001

# Healthy while GET /healthz answers 200; 503 (with numbot's JSON reason, printed so that
# `docker inspect` shows it), a refused connection or no answer within 4 s: unhealthy.
# Plain Python from the image (http.client, the layer under urllib that does not raise on a
# 503); the image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import http.client, os, sys; \
         c = http.client.HTTPConnection('127.0.0.1', int(os.environ.get('PORT', '3000')), timeout=4); \
         c.request('GET', '/healthz'); r = c.getresponse(); \
         print(r.status, r.read(500).decode('utf-8', 'replace')); sys.exit(r.status != 200)"]

CMD ["numbot", "run"]
