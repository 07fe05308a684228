# Stand-in for postgres:16-bookworm, from Debian bookworm's PostgreSQL (15): the same
# contract the compose file relies on: POSTGRES_DB / POSTGRES_USER / POSTGRES_PASSWORD
# create the database on first start, data in /var/lib/postgresql/data, pg_isready on PATH.
FROM debian:bookworm-slim
RUN apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 5432
CMD ["postgres"]
