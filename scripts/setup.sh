#!/usr/bin/env bash
# Installs the Debian packages adrs builds against. Safe to run again: apt skips what is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev   # LLM client
  nlohmann-json3-dev     # JSON everywhere (--json output, LLM protocol, metric blobs)
  libspdlog-dev          # logging (used header-only so binaries carry no libspdlog soname)
  libsqlite3-dev         # run database
  libcli11-dev           # command line
  libtomlplusplus-dev    # run configs
  libseccomp-dev         # masker worker sandbox
  libxxhash-dev          # content fingerprints
  libssl-dev             # SHA-256 (libcrypto) for compile-cache keys
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  chromium               # headless browser: the test of adrs report's page
  slurm-wlm munge        # the Slurm executor's test starts a one-node cluster (skipped without them)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
