#!/usr/bin/env bash
# The image, run as a user would: `serve` on a mounted config directory and a named volume, an
# API key made with the image's own CLI, a tool call from outside, the HEALTHCHECK reaching
# healthy, `docker stop` draining a slow call in flight, a restart on the same volume, and
# `audit verify` passing on what the two runs recorded.
#
#   deploy/image-test.sh IMAGE        (make image-test builds the image first)
#
# Everything runs with host networking (the only kind the daemon here has) on free ports, and
# every container and volume it makes carries a random suffix and is removed at the end.
set -euo pipefail
command -v curl >/dev/null || { echo "image-test needs curl (apt-get install curl)"; exit 1; }
IMAGE=${1:?usage: deploy/image-test.sh IMAGE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_ID=lgw-image-test-$$-$RANDOM
WORK=$(mktemp -d)
GATEWAY=$RUN_ID-gateway
ESTATE=$RUN_ID-estate
VOLUME=$RUN_ID-data

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
ESTATE_PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

cleanup() {
  docker rm -f "$GATEWAY" "$ESTATE" >/dev/null 2>&1 || true
  docker volume rm "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; docker logs "$GATEWAY" 2>&1 | tail -40 >&2 || true; exit 1; }
step() { echo "--- $*"; }

step "image: size, user, labels, no build tools"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "image size: $((size / 1024 / 1024)) MiB"
[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" = "10001:10001" ] || fail "image does not run as uid 10001"
for label in title version revision licenses base.name; do
  docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$label\"}}" "$IMAGE" | grep -q . \
    || fail "label org.opencontainers.image.$label missing"
done
docker run --rm --network host --entrypoint sh "$IMAGE" -c \
  'for tool in gcc cc c++ g++ make ld; do if command -v $tool; then exit 1; fi; done' \
  || fail "the final image holds a build tool"

step "the demo estate (the image's own, with its slow customer on) on port $ESTATE_PORT"
docker run -d --name "$ESTATE" --network host --entrypoint python3 "$IMAGE" \
  -m estate --port "$ESTATE_PORT" --hostile >/dev/null

step "config directory mounted read-only, the record on the named volume $VOLUME"
cp -r "$ROOT/mappings/demo" "$WORK/config"
chmod -R a+rX "$WORK/config"
docker volume create "$VOLUME" >/dev/null
KEY=$(docker run --rm --network host -v "$VOLUME:/var/lib/legacy-gateway" "$IMAGE" \
  keys create --agent image-test --scopes 'get_*,audit' 2>/dev/null)
[[ $KEY == lgw_* ]] || fail "keys create printed no key: $KEY"

start_gateway() {
  docker run -d --name "$GATEWAY" --network host \
    -v "$WORK/config:/etc/legacy-gateway:ro" -v "$VOLUME:/var/lib/legacy-gateway" \
    -e CUSTOMER_MASTER_URL="http://127.0.0.1:$ESTATE_PORT/customer-master" \
    -e FX_RATES_URL="http://127.0.0.1:$ESTATE_PORT/fx-rates" \
    -e CRM_URL="http://127.0.0.1:$ESTATE_PORT/crm" \
    -e LEDGER_DB=/var/lib/legacy-gateway/ledger.sqlite \
    -e ORDERS_AMQP_URL=amqp://guest:guest@127.0.0.1:1/%2F \
    -e LEGACY_GATEWAY_HEALTH_URL="$BASE/healthz" \
    -e LEGACY_GATEWAY_DRAIN_GRACE_S=15 \
    "$IMAGE" serve --config /etc/legacy-gateway --host 127.0.0.1 --port "$PORT" >/dev/null
}

wait_healthy() {
  for _ in $(seq 90); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$GATEWAY")
    [ "$status" = healthy ] && { echo "HEALTHCHECK: healthy"; return 0; }
    [ "$(docker inspect -f '{{.State.Running}}' "$GATEWAY")" = true ] || fail "the gateway exited"
    sleep 1
  done
  fail "the HEALTHCHECK did not reach healthy in 90 s (last: $status)"
}

answer_has() {  # answer_has FILE PYTHON_EXPRESSION_ON_a: is it true of the JSON answer?
  python3 -c "import json, sys; a = json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"
}

call() {  # call CUSTNO -> prints "HTTP_STATUS BODY"
  curl -s -o "$WORK/answer.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "{\"arguments\": {\"customer_number\": \"$1\"}}" \
    "$BASE/v1/tools/get_customer/call"
}

step "serve, then the HEALTHCHECK"
start_gateway
wait_healthy
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" = 200 ] || fail "/readyz is not 200"

step "a tool call from outside the container"
status=$(call 10000001)
[ "$status" = 200 ] || fail "the call answered $status: $(cat "$WORK/answer.json")"
answer_has "$WORK/answer.json" 'a["result"]["balance_eur"] == 1234.56' || fail "unexpected result: $(cat "$WORK/answer.json")"
unauthorized=$(curl -s -o /dev/null -w '%{http_code}' -d '{"arguments": {}}' "$BASE/v1/tools/get_customer/call")
[ "$unauthorized" = 401 ] || fail "a call without a key answered $unauthorized"

step "docker stop while a slow call (3 s) is in flight"
call 99999408 >"$WORK/slow.status" &
slow=$!
sleep 1
started=$(date +%s)
docker stop -t 30 "$GATEWAY" >/dev/null
wait "$slow"
echo "stopped in $(($(date +%s) - started)) s"
[ "$(cat "$WORK/slow.status")" = 200 ] || fail "the call in flight answered $(cat "$WORK/slow.status")"
answer_has "$WORK/answer.json" 'a["result"]["name"] == "SLOW, SAMUEL"' || fail "the call in flight: $(cat "$WORK/answer.json")"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$GATEWAY")" = 0 ] || fail "exit code $(docker inspect -f '{{.State.ExitCode}}' "$GATEWAY")"
# Read whole before searching: with pipefail, `docker logs | grep -q` fails when grep stops
# reading at its match while docker is still writing (SIGPIPE).
stopped_log=$(docker logs "$GATEWAY" 2>&1)
grep -q "stopping: draining 1 request" <<<"$stopped_log" || fail "no drain in the log"

step "restart on the same volume"
docker rm "$GATEWAY" >/dev/null
start_gateway
wait_healthy
status=$(call 10000002)
[ "$status" = 200 ] || fail "the call after the restart answered $status: $(cat "$WORK/answer.json")"
docker stop -t 30 "$GATEWAY" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$GATEWAY")" = 0 ] || fail "second stop: exit code not 0"

step "audit verify on the volume"
docker run --rm --network host -v "$VOLUME:/var/lib/legacy-gateway" "$IMAGE" audit verify \
  || fail "audit verify failed"
echo "image-test passed"
