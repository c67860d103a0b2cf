# The application image for docker-compose's `web` and `worker` services. The project is built into a wheel and
# only the wheel is installed, so the image holds exactly what a package install holds (a test builds the same
# wheel from the same build context, .dockerignore applied, and serves from it outside the checkout).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 POSTHOG_CLONE_DATA_DIR=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 1000 posthog && mkdir -p /data && chown posthog /data
USER posthog
WORKDIR /data
EXPOSE 8000
CMD ["gunicorn", "--config", "python:posthog_clone.gunicorn_conf", "posthog_clone.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "--access-logfile", "-"]
