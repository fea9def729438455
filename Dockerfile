# lightchat in a container: the package from this repository, and one app, served by
# `lightchat serve` with LIGHTCHAT_WORKERS worker processes (see "Scaling out" in README.md).
#
#   docker build -t my-chat --build-arg APP=examples/14_scale_out/app.py .
#   docker run -p 8000:8000 -e LIGHTCHAT_SECRET=... my-chat
#
# Several workers need LIGHTCHAT_REDIS_URL (and, for real load, LIGHTCHAT_DATABASE_URL
# pointing at PostgreSQL); examples/14_scale_out/compose.yaml puts it all together.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The package, with the Redis client (PostgreSQL's driver, asyncpg, is always installed).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lightchat ./lightchat
RUN pip install ".[redis]" && rm -rf /src

# A user without privileges; the app's .lightchat folder (uploads, element files, the
# cookie secret when LIGHTCHAT_SECRET is not set, SQLite without a database URL) is a
# volume, shared by every container of the app.
RUN useradd --create-home --uid 10001 lightchat \
    && mkdir -p /srv/app/.lightchat \
    && chown -R lightchat /srv/app
WORKDIR /srv/app
ARG APP=examples/14_scale_out/app.py
COPY --chown=lightchat ${APP} ./app.py
VOLUME /srv/app/.lightchat
USER lightchat

ENV LIGHTCHAT_WORKERS=1 \
    LIGHTCHAT_SHUTDOWN_GRACE_S=30
EXPOSE 8000
# Liveness only; a load balancer should ask /-/ready (the database and Redis answer).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/-/health', timeout=2)"]
# SIGTERM (docker stop) lets running answers finish for up to LIGHTCHAT_SHUTDOWN_GRACE_S:
# give docker stop a longer timeout (docker stop -t 40, compose's stop_grace_period).
CMD ["lightchat", "serve", "app.py", "--host", "0.0.0.0", "--port", "8000"]
