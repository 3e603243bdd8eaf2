# One slim image for every Log Center component; the command picks the component:
#   logcenter api | indexer | worker | dashboard | up
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LOGCENTER_DATA_DIR=/data

# git: the repair agent works in git worktrees of the projects it repairs. node and npm: it runs
# JavaScript/TypeScript projects' tests in their own toolchain (Python projects get virtualenvs
# of their own). Go and Flutter are additions: see the README's "AI repair". bubblewrap: every
# command of a repair runs in its sandbox (setpriv and prlimit come with util-linux); as uid
# 10001 it needs a user namespace: see docker-compose.yml's worker service.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git nodejs npm bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 logcenter \
 && mkdir -p /data && chown logcenter /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY store ./store
COPY client ./client
COPY ingest ./ingest
COPY agent ./agent
COPY dashboards ./dashboards
RUN pip install .

USER logcenter
VOLUME ["/data"]
EXPOSE 8002 8003
ENTRYPOINT ["logcenter"]
CMD ["up"]
