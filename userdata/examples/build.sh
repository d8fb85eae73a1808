#!/bin/bash
# The seed's job, for Amazon Linux 2023: clone a repository, build it with make, upload the binary.
#   REPO_URL   the repository to clone (env; default below)
#   BINARY     the file make produces, relative to the repository (env; default bin/app)
# The bootstrap uploads the log and the outcome and shuts the instance down afterwards.
set -euo pipefail
REPO_URL=${REPO_URL:-https://github.com/example/myrepo.git}
BINARY=${BINARY:-bin/app}

missing=()
for tool in git make gcc; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  dnf install -y -q git make gcc
fi

workdir=$(mktemp -d)
git clone --depth 1 "$REPO_URL" "$workdir/repo"
make -C "$workdir/repo"
aws s3 cp --quiet "$workdir/repo/$BINARY" "${LONGTASK_ARTIFACTS_URI}$(basename "$BINARY")"
echo "uploaded ${LONGTASK_ARTIFACTS_URI}$(basename "$BINARY")"
