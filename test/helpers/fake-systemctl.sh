#!/usr/bin/env bash
# A stand-in for systemctl where systemd is not running (the deploy-doc test's namespace): it starts
# and stops the three services docs/deploy.md sets up the way their units do.
#   rostrum: read from its unit file (/etc/systemd/system/rostrum.service): User, WorkingDirectory,
#            EnvironmentFile, StateDirectory(+Mode), ExecStart — so the shipped unit is what runs.
#   nginx:   Debian's unit: nginx -t, then nginx (it daemonizes; /run/nginx.pid).
#   coturn:  Debian's unit: turnserver -c /etc/turnserver.conf as the user turnserver.
# Commands: daemon-reload, enable [--now] UNIT..., start|restart|stop|reload|try-reload-or-restart UNIT...
set -euo pipefail
state=/run/fake-systemd
mkdir -p "$state"

unit_value() { # unit_value FILE KEY: the value of KEY= in FILE (the last one)
  sed -n "s/^$2=//p" "$1" | tail -n 1
}

start_rostrum() {
  local unit=/etc/systemd/system/rostrum.service
  [ -f "$unit" ] || { echo "fake systemctl: $unit not found" >&2; exit 5; }
  local user dir envfile exec statedir mode
  user=$(unit_value "$unit" User)
  dir=$(unit_value "$unit" WorkingDirectory)
  envfile=$(unit_value "$unit" EnvironmentFile)
  exec=$(unit_value "$unit" ExecStart)
  statedir=$(unit_value "$unit" StateDirectory)
  mode=$(unit_value "$unit" StateDirectoryMode)
  if [ -n "$statedir" ]; then
    install -d -o "$user" -g "$user" -m "${mode:-0755}" "/var/lib/$statedir"
  fi
  # systemd reads EnvironmentFile as root and gives the service exactly those variables.
  local vars=()
  while IFS= read -r line; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && vars+=("$line")
  done < "$envfile"
  (cd "$dir" && exec setsid runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="/var/lib/$statedir" "${vars[@]}" $exec \
    >> "$state/rostrum.log" 2>&1 < /dev/null) &
  echo $! > "$state/rostrum.pid"
}

start_unit() {
  case "$1" in
    rostrum) start_rostrum ;;
    nginx) /usr/sbin/nginx -t -q -g 'daemon on; master_process on;' && /usr/sbin/nginx -g 'daemon on; master_process on;' ;;
    coturn)
      (exec setsid runuser -u turnserver -- /usr/bin/turnserver -c /etc/turnserver.conf --pidfile= >> "$state/coturn.log" 2>&1 < /dev/null) &
      echo $! > "$state/coturn.pid"
      ;;
    *) echo "fake systemctl: unknown unit $1" >&2; exit 5 ;;
  esac
}

stop_unit() {
  case "$1" in
    nginx) [ -f /run/nginx.pid ] && /usr/sbin/nginx -s quit && sleep 0.5 || true ;;
    *)
      if [ -f "$state/$1.pid" ]; then
        pkill -TERM -s "$(cat "$state/$1.pid")" 2>/dev/null || true
        sleep 1
        rm -f "$state/$1.pid"
      fi
      ;;
  esac
}

command=${1:?usage: systemctl COMMAND [UNIT...]}
shift
units=()
now=false
for arg in "$@"; do
  case "$arg" in
    --now) now=true ;;
    -*) ;;
    *) units+=("${arg%.service}") ;;
  esac
done

case "$command" in
  daemon-reload) ;;
  enable)
    if $now; then
      for u in "${units[@]}"; do stop_unit "$u"; start_unit "$u"; done
    fi
    ;;
  start) for u in "${units[@]}"; do start_unit "$u"; done ;;
  stop) for u in "${units[@]}"; do stop_unit "$u"; done ;;
  restart) for u in "${units[@]}"; do stop_unit "$u"; start_unit "$u"; done ;;
  reload | try-reload-or-restart)
    for u in "${units[@]}"; do
      if [ "$u" = nginx ]; then /usr/sbin/nginx -s reload; else stop_unit "$u"; start_unit "$u"; fi
    done
    ;;
  *) echo "fake systemctl: $command is not emulated" >&2; exit 1 ;;
esac
