#!/usr/bin/env bash
# kafka-local.sh — a real single-node Apache Kafka (KRaft, broker+controller in
# one JVM) on 127.0.0.1, for integration tests and local runs against the real
# protocol rather than the in-process kfake fake.
#
#   scripts/kafka-local.sh start                     # prints KAFKA_BROKERS=127.0.0.1:19092
#   scripts/kafka-local.sh create-topic NAME PARTITIONS
#   scripts/kafka-local.sh wait                      # block until the broker serves kafka-go
#   scripts/kafka-local.sh status                    # exit 0 + address if running, else 1
#   scripts/kafka-local.sh stop
#   scripts/kafka-local.sh cluster-id                # print a new KRaft cluster id
#
# `eval "$(scripts/kafka-local.sh start)"` exports nothing but sets
# KAFKA_BROKERS in the calling shell: stdout carries only that line, all
# progress goes to stderr.
#
# Why it is built this way:
#   * No Docker and no network but the package registries: the broker is
#     assembled from the Kafka jars published to Maven Central, fetched with
#     `mvn dependency:copy-dependencies` and cached, then run as
#     `java -cp 'libs/*' kafka.Kafka server.properties` — what bin/kafka-server-start.sh
#     does in the binary tarball, minus the tarball.
#   * Kafka 4.4.0 by default, the latest 4.x release on Maven Central
#     (org.apache.kafka:kafka_2.13, checked 2026-12-01): users run 4.x now.
#     4.x removed old protocol versions (KIP-896) and segmentio/kafka-go's
#     Conn/ConsumerGroup still hard-code some low ones, but for every API it
#     uses at least one of its versions is still served (Fetch v10, ListOffsets
#     v1, OffsetCommit v2, OffsetFetch v1, Heartbeat/SyncGroup/LeaveGroup v0):
#     `kafkawait apiversions` prints the table for a running broker. 4.x needs
#     Java 17. KAFKA_VERSION=3.9.2 runs the last 3.x, which still accepts every
#     version from v0; .ci/run runs the real-Kafka suite on both.
#   * Readiness is judged by scripts/kafkawait, a tiny Go program using
#     kafka-go itself, so "ready" means kafka-go can fetch metadata and find a
#     group coordinator, not merely that a TCP port accepts connections.
#
# Environment (all optional):
#   KAFKA_VERSION           Kafka release from Maven Central          (4.4.0)
#   KAFKA_PORT              client listener port                       (19092)
#   KAFKA_CONTROLLER_PORT   KRaft controller listener port             (19093)
#   KAFKA_CACHE             root for jars and state      ($HOME/.cache/erasured)
#                           jars:  $KAFKA_CACHE/kafka-$KAFKA_VERSION/libs
#   KAFKA_STATE             data, config, pid and log dir
#                           ($KAFKA_CACHE/kafka-$KAFKA_VERSION/state-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS         JVM heap flags                (-Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS          other JVM flags (GC etc.)   (G1, see below)
#   KAFKA_WAIT_TIMEOUT      seconds to wait for readiness              (90)
#   KAFKA_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL        (30)
#   KAFKA_MVN_ARGS          extra Maven arguments, e.g. -Dmaven.repo.local=DIR
set -euo pipefail

readonly HOST=127.0.0.1
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_CACHE=${KAFKA_CACHE:-${HOME}/.cache/erasured}
VERSION_DIR=${KAFKA_CACHE}/kafka-${KAFKA_VERSION}
LIBS_DIR=${VERSION_DIR}/libs
KAFKA_STATE=${KAFKA_STATE:-${VERSION_DIR}/state-${KAFKA_PORT}}
# 512 MiB is plenty for a test broker and leaves room on a 2-core/CI box that
# also runs `go test -race`; raise it if you push large batches.
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
# The flags bin/kafka-run-class.sh uses, plus exiting on OOM so a dead broker
# is noticed instead of a half-alive one.
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
KAFKA_WAIT_TIMEOUT=${KAFKA_WAIT_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_MVN_ARGS=${KAFKA_MVN_ARGS:-}
# Pinned so the cache layout does not depend on the local Maven's default.
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "${SCRIPT_DIR}/.." && pwd)
readonly ADDR=${HOST}:${KAFKA_PORT}
readonly PID_FILE=${KAFKA_STATE}/kafka.pid
readonly LOG_FILE=${KAFKA_STATE}/kafka.log
readonly DATA_DIR=${KAFKA_STATE}/data
readonly WAIT_BIN=${KAFKA_STATE}/kafkawait

log() { printf 'kafka-local: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"
}

# kill -0 also succeeds for a zombie, and a broker whose starter shell is
# gone may linger as one under a parent that never reaps (some sandboxes and
# CI runners); a zombie is dead for our purposes.
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# pid of our broker if it is alive, else nothing. The cmdline check guards
# against a recycled pid after a reboot or a crash left the pid file behind.
running_pid() {
  local pid cmdline
  [[ -f ${PID_FILE} ]] || return 1
  pid=$(<"${PID_FILE}")
  [[ ${pid} =~ ^[0-9]+$ ]] || return 1
  alive "${pid}" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null) || return 1
  [[ ${cmdline} == *" kafka.Kafka "* ]] || return 1
  printf '%s\n' "${pid}"
}

port_open() {
  # bash's /dev/tcp: no nc/ss dependency. The subshell closes the socket.
  (exec 3<>"/dev/tcp/${HOST}/$1") 2>/dev/null
}

log_tail() {
  if [[ -f ${LOG_FILE} ]]; then
    log "last 40 lines of ${LOG_FILE}:"
    tail -n 40 "${LOG_FILE}" >&2
  fi
}

# Download the broker's jars once per version. Written to a temp dir and
# renamed, so an interrupted download never looks like a complete cache.
ensure_jars() {
  if [[ -f ${LIBS_DIR}/.complete ]]; then
    return 0
  fi
  need mvn "install Maven 3.x, it fetches the Kafka jars"
  mkdir -p "${VERSION_DIR}"
  local tmp pom
  tmp=$(mktemp -d "${VERSION_DIR}/libs.tmp.XXXXXX")
  pom=${VERSION_DIR}/pom.xml
  # kafka_2.13 (the `core` module that holds kafka.Kafka and
  # kafka.tools.StorageTool) pulls server, raft, metadata, storage, group and
  # transaction coordinators and clients transitively. It declares only
  # slf4j-api, so without a binding the broker would log nothing:
  # slf4j-reload4j is the binding the 3.x tarball ships; it works for 4.x too.
  cat >"${pom}" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka-local.sh: the runtime classpath of a Kafka broker. -->
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.erasured</groupId>
  <artifactId>kafka-local-broker</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "downloading Kafka ${KAFKA_VERSION} jars with Maven into ${LIBS_DIR} (first run only)"
  # Maven's output goes to a file: even -q prints terminal escapes, and the
  # stdout of this script is reserved for the KAFKA_BROKERS line.
  # shellcheck disable=SC2086 # KAFKA_MVN_ARGS is a list of arguments on purpose
  if ! mvn -B -f "${pom}" ${KAFKA_MVN_ARGS} "${DEPENDENCY_PLUGIN}:copy-dependencies" \
    -DincludeScope=runtime -Dmdep.useRepositoryLayout=false -DoutputDirectory="${tmp}" \
    >"${VERSION_DIR}/mvn.log" 2>&1; then
    rm -rf "${tmp}"
    tail -n 30 "${VERSION_DIR}/mvn.log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (full log: ${VERSION_DIR}/mvn.log)"
  fi
  [[ -f ${tmp}/kafka_2.13-${KAFKA_VERSION}.jar ]] || {
    rm -rf "${tmp}"
    die "Maven finished but kafka_2.13-${KAFKA_VERSION}.jar is missing"
  }
  touch "${tmp}/.complete"
  rm -rf "${LIBS_DIR}"
  mv "${tmp}" "${LIBS_DIR}"
}

# Build the readiness helper from this repo (it uses the module's own
# kafka-go). `go build` is incremental, so this is ~1s once cached.
ensure_wait_bin() {
  need go "the readiness helper scripts/kafkawait is Go"
  mkdir -p "${KAFKA_STATE}"
  (cd "${REPO_ROOT}" && go build -o "${WAIT_BIN}" ./scripts/kafkawait) ||
    die "could not build scripts/kafkawait"
}

write_config() {
  mkdir -p "${DATA_DIR}"
  cat >"${KAFKA_STATE}/server.properties" <<EOF
# Generated by scripts/kafka-local.sh on every start; edit the script instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${KAFKA_PORT},CONTROLLER://${HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${KAFKA_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA_DIR}
metadata.log.dir=${DATA_DIR}

# One node: every internal topic must fit on one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
default.replication.factor=1
# 50 offsets partitions (the default) only slows the first group join on a
# small box; 8 still spreads groups over several coordinator partitions.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8

# Tests start groups and expect assignments now, not after 3s.
group.initial.rebalance.delay.ms=0
# Topics are created on purpose (create-topic), so typos fail loudly.
auto.create.topics.enable=false
num.partitions=8

# Sized for a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
  # log4j 1.x (reload4j) config: everything to stdout, which start redirects
  # into kafka.log; the per-request loggers are far too chatty at INFO.
  cat >"${KAFKA_STATE}/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
  # Kafka 4.x also pulls in log4j2-core and reconfigures it at startup; give
  # it a config too, or it prints "Reconfiguration failed" errors. Unused by
  # 3.x, harmless there.
  cat >"${KAFKA_STATE}/log4j2.properties" <<'EOF'
status=warn
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
EOF
}

java_cmd() {
  local -a heap jvm
  read -r -a heap <<<"${KAFKA_HEAP_OPTS}"
  read -r -a jvm <<<"${KAFKA_JVM_OPTS}"
  JAVA_CMD=(java "${heap[@]}" "${jvm[@]}"
    "-Dlog4j.configuration=file:${KAFKA_STATE}/log4j.properties"
    "-Dlog4j2.configurationFile=${KAFKA_STATE}/log4j2.properties"
    -cp "${LIBS_DIR}/*")
}

# new_cluster_id prints a Kafka cluster id: 16 random bytes in unpadded
# URL-safe base64, the same thing `kafka-storage random-uuid` prints, without
# a JVM start. Like Kafka's Uuid.randomUuid it draws again when the id starts
# with '-': the storage tool's argument parser takes `-t -uAkf...` for a
# missing value and another option, and the format fails (a CI run did, one
# draw in 64).
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ ${id} == -* ]] || break
  done
  printf '%s\n' "${id}"
}

# KRaft refuses to start on an unformatted log dir. Format once; a restart
# reuses meta.properties, so topics and committed offsets persist.
format_storage() {
  [[ -f ${DATA_DIR}/meta.properties ]] && return 0
  local cluster_id
  cluster_id=$(new_cluster_id)
  log "formatting ${DATA_DIR} (cluster id ${cluster_id})"
  java_cmd
  if ! "${JAVA_CMD[@]}" kafka.tools.StorageTool format -t "${cluster_id}" \
    -c "${KAFKA_STATE}/server.properties" >>"${LOG_FILE}" 2>&1; then
    log_tail
    die "storage format failed"
  fi
}

# Poll until kafka-go is served, failing fast if the JVM dies meanwhile.
wait_ready() {
  local pid=${1:-} deadline err
  deadline=$((SECONDS + KAFKA_WAIT_TIMEOUT))
  while ((SECONDS < deadline)); do
    if err=$("${WAIT_BIN}" probe -brokers "${ADDR}" -timeout 3s 2>&1); then
      return 0
    fi
    if [[ -n ${pid} ]] && ! alive "${pid}"; then
      log_tail
      die "broker process ${pid} exited during startup"
    fi
    sleep 0.5
  done
  log "last probe error: ${err}"
  log_tail
  die "broker at ${ADDR} not ready after ${KAFKA_WAIT_TIMEOUT}s (log: ${LOG_FILE})"
}

cmd_start() {
  local pid started
  mkdir -p "${KAFKA_STATE}"
  # Serialize concurrent starts/stops on the same state dir (e.g. parallel
  # make targets). The lock fd is closed for the JVM below, or the broker
  # would hold the lock for its whole life.
  exec 9>"${KAFKA_STATE}/.lock"
  flock 9
  ensure_wait_bin
  if pid=$(running_pid); then
    log "already running (pid ${pid}, log ${LOG_FILE})"
    wait_ready "${pid}"
    printf 'KAFKA_BROKERS=%s\n' "${ADDR}"
    return 0
  fi
  rm -f "${PID_FILE}"
  need java "Kafka needs a JRE (17+ for Kafka 4.x, 11+ for 3.9)"
  for port in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
    if port_open "${port}"; then
      die "port ${HOST}:${port} is taken by another process; set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
  ensure_jars
  write_config
  format_storage
  started=${SECONDS}
  java_cmd
  log "starting Kafka ${KAFKA_VERSION} on ${ADDR} (state ${KAFKA_STATE})"
  # setsid: the broker must outlive the shell (or make recipe) that started
  # it and must not get that terminal's Ctrl-C.
  setsid "${JAVA_CMD[@]}" kafka.Kafka "${KAFKA_STATE}/server.properties" \
    </dev/null >>"${LOG_FILE}" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "${pid}" >"${PID_FILE}"
  wait_ready "${pid}"
  log "ready in $((SECONDS - started))s (pid ${pid}, log ${LOG_FILE})"
  printf 'KAFKA_BROKERS=%s\n' "${ADDR}"
}

cmd_stop() {
  local pid deadline
  mkdir -p "${KAFKA_STATE}"
  exec 9>"${KAFKA_STATE}/.lock"
  flock 9
  if ! pid=$(running_pid); then
    rm -f "${PID_FILE}"
    log "not running"
    return 0
  fi
  log "stopping pid ${pid} (SIGTERM, SIGKILL after ${KAFKA_STOP_TIMEOUT}s)"
  kill -TERM "${pid}" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while alive "${pid}" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "${pid}"; then
    log "still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    while alive "${pid}"; do sleep 0.1; done
  fi
  rm -f "${PID_FILE}"
  log "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    log "running: pid ${pid}, Kafka ${KAFKA_VERSION}, state ${KAFKA_STATE}"
    printf 'KAFKA_BROKERS=%s\n' "${ADDR}"
    return 0
  fi
  log "not running (state ${KAFKA_STATE})"
  return 1
}

# Works for any broker on ADDR, including one this script did not start.
cmd_wait() {
  ensure_wait_bin
  "${WAIT_BIN}" wait -brokers "${ADDR}" -timeout "${KAFKA_WAIT_TIMEOUT}s" ||
    die "broker at ${ADDR} not ready after ${KAFKA_WAIT_TIMEOUT}s"
  printf 'KAFKA_BROKERS=%s\n' "${ADDR}"
}

cmd_create_topic() {
  [[ $# -eq 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "usage: $0 create-topic NAME PARTITIONS"
  ensure_wait_bin
  "${WAIT_BIN}" create-topic -brokers "${ADDR}" -topic "$1" -partitions "$2" -replication 1 >&2
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case ${cmd} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    create-topic) cmd_create_topic "$@" ;;
    cluster-id) new_cluster_id ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
