# Helpers shared by the scripts (sourced, not run).

# A loopback TCP port that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# True when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_online PORT COUNT: until COUNT services report `online` on ke/status/+ of the broker at PORT (30 s at most).
wait_online() {
  local deadline=$((SECONDS + 30)) n
  while (( SECONDS < deadline )); do
    n=$(mosquitto_sub -p "$1" -t 'ke/status/+' -v -W 1 2>/dev/null | grep -c ' online$' || true)
    [ "$n" -ge "$2" ] && return 0
  done
  return 1
}
