# The application image for docker-compose's `web` and `worker` services.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 POSTHOG_CLONE_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY posthog_clone ./posthog_clone
COPY environments ./environments
COPY evaluations ./evaluations
COPY events ./events
COPY symbol_sets ./symbol_sets
COPY manage.py ./
RUN pip install --no-cache-dir . && mkdir -p /data
EXPOSE 8000
CMD ["gunicorn", "--config", "python:posthog_clone.gunicorn_conf", "posthog_clone.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "--access-logfile", "-"]
