# kubemu: one image for every kubemu process; docker-compose.yml picks the command.
#   docker build -t kubemu:dev .
#   docker compose up
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/kubemu

# Only what the installed packages need (no .venv, data or caches from the checkout).
COPY pyproject.toml README.md ./
COPY apiserver ./apiserver
COPY controllers ./controllers
COPY kubemu ./kubemu

RUN pip install . \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/kubemu --create-home kubemu \
 && mkdir -p /data /pki \
 && chown kubemu:kubemu /data /pki

USER kubemu
VOLUME ["/data", "/pki"]
EXPOSE 6443 8080

# Without docker-compose.yml (which runs `kubemu certs` and serves HTTPS with RBAC), the
# image serves plain HTTP: binding 0.0.0.0 without authentication must be explicit (see
# DESIGN.md, "Safe by default"); publish the port on the host's loopback only.
CMD ["python", "-m", "apiserver", "--bind-address", "0.0.0.0", "--allow-unauthenticated-bind", \
     "--port", "8080", "--data-dir", "/data", "--storage", "sqlite"]
