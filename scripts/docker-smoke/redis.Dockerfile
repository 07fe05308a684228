# Stand-in for redis:7-bookworm (Debian's Redis 7.0): redis-server and redis-cli on
# PATH, data in /data, and, as the official entrypoint does, protected mode off when the
# command line names no config file (the container's network is the boundary).
FROM debian:bookworm-slim
RUN apt-get update -q && apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir /data && chown redis:redis /data
WORKDIR /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
