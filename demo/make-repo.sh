#!/bin/bash
# Make the small C project the demo builds (a stand-in for the seed's "git clone https://example.com/myrepo"):
# a git repository with a Makefile that builds bin/hello. Prints the repository's file:// URL.
set -euo pipefail
repo=$(realpath -m "${1:?usage: make-repo.sh DIRECTORY}")
rm -rf "$repo"
mkdir -p "$repo"
cat >"$repo/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello from a binary built on a throwaway instance"); return 0; }
C
cat >"$repo/Makefile" <<'MAKE'
bin/hello: hello.c
	mkdir -p bin
	$(CC) -O2 -o $@ hello.c
MAKE
git -C "$repo" init -q
git -C "$repo" add hello.c Makefile
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -q -m "demo project"
echo "file://$repo"
