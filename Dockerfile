# The SatuPintu app image: the ingestor, the web process (API and dashboard) and
# the simulator; docker-compose.yml picks the command. Everything is installed at
# build time; nothing is downloaded when a container starts.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# mosquitto_passwd (in Debian's mosquitto package) hashes integrator passwords
# for `satupintu integrator`; the broker itself runs in its own container.
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY dashboards ./dashboards
COPY satupintu ./satupintu
RUN pip install . && rm -rf /src

RUN useradd --system --create-home --home-dir /app --uid 10001 satupintu
WORKDIR /app
USER satupintu
EXPOSE 8000
ENTRYPOINT ["satupintu"]
CMD ["web", "--host", "0.0.0.0", "--port", "8000"]
