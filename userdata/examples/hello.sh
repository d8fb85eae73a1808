#!/bin/bash
# The smallest run: say hello and show what the bootstrap gives a script.
set -euo pipefail
echo "hello from run ${LONGTASK_RUN_ID} on $(hostname)"
echo "artifacts go to ${LONGTASK_ARTIFACTS_URI}"
