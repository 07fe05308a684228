# Stand-in for python:3.11-slim-bookworm, built from Debian's own packages, for machines
# that reach Debian and PyPI but not Docker Hub. Same Python minor version (3.11) and
# the same layout the studio's Dockerfiles rely on: python and pip on PATH, no
# externally-managed marker (a venv in /usr/local). The build machine's CA bundle goes in
# too, so pip trusts whatever TLS proxy stands between this machine and PyPI.
FROM debian:bookworm-slim
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt
COPY host-ca-certificates.crt /etc/ssl/certs/host-ca-certificates.crt
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
        python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local \
    && /usr/local/bin/pip install -q --upgrade pip
CMD ["python3"]
