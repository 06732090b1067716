-- Runs once, when the postgres container initialises an empty data volume
-- (mounted into /docker-entrypoint-initdb.d/). One database per service: no service
-- reads another's tables. The role "hall" is created by POSTGRES_USER in docker-compose.yml.
CREATE DATABASE intake OWNER hall;
CREATE DATABASE triage OWNER hall;
CREATE DATABASE meeting OWNER hall;
CREATE DATABASE ledger OWNER hall;
CREATE DATABASE feedback OWNER hall;
