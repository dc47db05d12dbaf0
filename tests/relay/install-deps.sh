#!/usr/bin/env bash
# Install what the relay harness needs, from Debian's packages, if missing:
# kamailio (with its msrp, auth, htable, tcpops, cfgutils, xhttp modules),
# kamailio-tls-modules (tls.so), kamailio-websocket-modules (websocket.so, for
# --ws-port / --wss-port), openssl and python3. Needs root (or sudo).
# Idempotent: does nothing when everything is present.
set -euo pipefail

need=()
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1 || need+=(kamailio-tls-modules)
ls /usr/lib/*/kamailio/modules/websocket.so >/dev/null 2>&1 || need+=(kamailio-websocket-modules)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v python3 >/dev/null 2>&1 || need+=(python3)

if [ ${#need[@]} -eq 0 ]; then
	echo "install-deps.sh: kamailio, its tls and websocket modules, openssl and python3 present" >&2
	exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The module packages need kamailio itself; ask for all whenever one is
# missing so that the versions match.
case " ${need[*]} " in
*" kamailio "*|*" kamailio-tls-modules "*|*" kamailio-websocket-modules "*)
	need+=(kamailio kamailio-tls-modules kamailio-websocket-modules) ;;
esac
$SUDO apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >&2
