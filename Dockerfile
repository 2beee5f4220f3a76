# smtp_logger receiver. Build: docker build -t smtp-logger .
# Run (SQLite in the volume):   docker run -p 25:2525 -v smtp-logger-data:/data smtp-logger
# With PostgreSQL: compose.yaml. tests/test_deploy_files.py checks this file and runs its
# entrypoint with its environment.
#
# Port 25 without root: the process runs as the unprivileged user smtp-logger with no extra
# capabilities and listens on 2525 inside the container; publish it as the host's port 25
# (-p 25:2525, compose.yaml does the same). Nothing in the image needs root at run time.
FROM python:3.11-slim

RUN groupadd --system --gid 10025 smtp-logger \
 && useradd --system --uid 10025 --gid smtp-logger --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin smtp-logger \
 && mkdir -p /data && chown smtp-logger:smtp-logger /data && chmod 0750 /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY smtp_logger ./smtp_logger
COPY config ./config
# Build flanker's parse tables now, as root, into site-packages: at run time site-packages is
# not writable, and they would be rebuilt at every start.
RUN pip install --no-cache-dir . \
 && python -c "import smtp_logger.understand.addresses"

# Every setting can be overridden with SMTP_LOGGER_<KEY> (docker run -e, compose environment).
ENV SMTP_LOGGER_CONFIG=/app/config/smtp_logger.toml \
    SMTP_LOGGER_DATA_DIR=/data \
    SMTP_LOGGER_HOST=0.0.0.0 \
    SMTP_LOGGER_PORT=2525 \
    SMTP_LOGGER_METRICS_PORT=9100 \
    SMTP_LOGGER_LOG_FORMAT=json

# The spool, the SQLite database (when database_url is empty), raw mail and attachments.
VOLUME /data
EXPOSE 2525 9100
USER smtp-logger:smtp-logger

# Liveness: /healthz on the metrics port (python: the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['SMTP_LOGGER_METRICS_PORT'], timeout=4)"]

# A bad configuration exits 2 with one line naming the key or file.
CMD ["smtp-logger", "serve"]
