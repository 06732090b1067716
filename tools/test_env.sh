#!/usr/bin/env bash
# What the test tiers need besides Python, so that `make test` works on a fresh machine (and `.ci/run` is
# `make test` with its audit): RabbitMQ, Redis and PostgreSQL up on localhost (started as DESIGN.md section 7
# prescribes when they are not), Debian's Chromium for the console's browser tests and CJK fonts.
# Idempotent and quick when everything is already there.
set -euo pipefail

log() { echo "==> $*"; }

wait_for() {
    # wait_for <seconds> <description> <command...>: retry the command once a second until it succeeds.
    local timeout=$1 what=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "!! ${what} not ready after ${timeout}s: $*" >&2
            return 1
        fi
        sleep 1
    done
    log "${what} is ready"
}

# --- RabbitMQ (guest/guest on 127.0.0.1:5672) ---
if rabbitmqctl status >/dev/null 2>&1; then
    log "RabbitMQ already running"
else
    log "starting RabbitMQ: rabbitmq-server -detached"
    rabbitmq-server -detached
fi
# await_startup itself blocks until the node has booted; the loop covers the node not being up yet.
wait_for 120 "RabbitMQ" timeout 120 rabbitmqctl await_startup
# A broker node can be up with its application stopped (e.g. after `rabbitmqctl stop_app`): start it.
rabbitmqctl start_app >/dev/null 2>&1 || true
# The management API lets each test make its private vhost in ~0.1 s instead of three rabbitmqctl calls (an Erlang
# VM each); tests fall back to rabbitmqctl where it is missing. Enabling is idempotent and survives restarts.
if rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_management; then
    log "RabbitMQ management API already enabled"
else
    log "enabling RabbitMQ's management API: rabbitmq-plugins enable rabbitmq_management"
    rabbitmq-plugins enable rabbitmq_management >/dev/null || log "could not enable it; tests use rabbitmqctl"
fi

# --- Redis (127.0.0.1:6379) ---
if redis-cli ping >/dev/null 2>&1; then
    log "Redis already running"
else
    log 'starting Redis: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
wait_for 30 "Redis" redis-cli ping

# --- PostgreSQL (127.0.0.1:5432, trust auth) ---
if pg_isready -h 127.0.0.1 >/dev/null 2>&1; then
    log "PostgreSQL already running"
else
    version=$(pg_lsclusters -h | awk '{print $1; exit}')
    log "starting PostgreSQL: pg_ctlcluster --skip-systemctl-redirect ${version} main start"
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start
fi
wait_for 60 "PostgreSQL" pg_isready -h 127.0.0.1

# --- Chromium for the console's browser tests (the Debian package; never a downloaded browser) ---
# CJK fonts, so that the screenshots of the Chinese pages show text rather than boxes.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
if ((${#missing[@]})); then
    sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "!! install as root: apt-get install -y ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    log "installing ${missing[*]} (Debian packages)"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
fi

