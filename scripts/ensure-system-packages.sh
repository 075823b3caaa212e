#!/usr/bin/env bash
# Installs the Debian packages a purpose needs (listed in scripts/system-packages/<purpose>.txt,
# one "command package" pair a line; a path instead of a command names a file the package installs,
# such as an nginx module), only those whose command or file is missing. We run as root here;
# elsewhere it prints what to install and fails.
set -euo pipefail
purpose=${1:?usage: ensure-system-packages.sh test|bench}
list="$(dirname "$0")/system-packages/$purpose.txt"
[ -f "$list" ] || exit 0
missing=()
while read -r cmd pkg; do
  [ -z "${cmd:-}" ] || [[ "$cmd" == \#* ]] && continue
  if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] || missing+=("$pkg"); continue; fi
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages for $purpose: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing system packages for $purpose: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
