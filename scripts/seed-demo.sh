#!/usr/bin/env bash
# The main job: the seed's task on berth's embedded cluster. A framework subscribes, takes an
# offer, launches a Docker task (cpus 0.5, mem 100, BRIDGE network) whose command prints its
# environment and "command running" a few times, logs the TaskInfo as JSON, and follows it to
# TASK_FINISHED. The seed's command loops forever; this one stops after five rounds.
#
# No registry is needed: the image is built locally from the host's static busybox first.
# Extra arguments go to `berth run` (e.g. --log-format text, --content-type protobuf).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/make-test-image.sh >/dev/null
exec cargo run --quiet -p berth -- run \
  --name DockerContainerTask-1 \
  --image berth/busybox:latest \
  --network bridge \
  --cpus 0.5 --mem 100 \
  --log-format json \
  "$@" \
  -- 'env && for i in 1 2 3 4 5; do echo command running; sleep 3; done'
