FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY smtp_logger ./smtp_logger
COPY config ./config
RUN pip install --no-cache-dir .
ENV SMTP_LOGGER_DATA_DIR=/data \
    SMTP_LOGGER_HOST=0.0.0.0 \
    SMTP_LOGGER_LOG_FORMAT=json
VOLUME /data
EXPOSE 2525
CMD ["smtp-logger", "serve"]
