#!/bin/sh
# Installs the Debian packages the Nchan peer needs (nginx + the nchan module)
# when they are missing. Idempotent: a second run changes nothing.
#
# The bench runs its own nginx instance (own prefix, config, pid file and
# loopback port), so the system nginx service is kept stopped and disabled:
# the package must not start it, and it must not hold port 80 or a pid file.
#
# Socket.IO and Faye are npm dependencies of @pns/bench (npm install).
set -eu

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

missing=
for pkg in nginx libnginx-mod-nchan; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "setup: $pkg already installed ($(dpkg-query -W -f='${Version}' "$pkg"))"
  else
    missing="$missing $pkg"
  fi
done

if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  # Keep the package from starting the nginx service: invoke-rc.d asks
  # policy-rc.d, and exit status 101 means "action forbidden".
  policy=/usr/sbin/policy-rc.d
  created_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    created_policy=1
  fi
  trap 'if [ -n "$created_policy" ]; then $SUDO rm -f "$policy"; fi' EXIT
  $SUDO apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
  echo "setup: installed:$missing"
else
  echo "setup: nothing to install"
fi

# Make sure no system nginx runs (the bench starts its own instance).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  if systemctl is-enabled --quiet nginx 2>/dev/null; then
    $SUDO systemctl disable nginx >/dev/null 2>&1 || true
    echo "setup: disabled the nginx service"
  fi
  if systemctl is-active --quiet nginx 2>/dev/null; then
    $SUDO systemctl stop nginx
    echo "setup: stopped the nginx service"
  fi
elif [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
  $SUDO nginx -s quit || true
  echo "setup: stopped the system nginx (pid file /run/nginx.pid)"
fi

module=$(ls /usr/lib/nginx/modules/ngx_nchan_module.so /usr/share/nginx/modules/ngx_nchan_module.so 2>/dev/null | head -n 1 || true)
if [ -z "$module" ]; then
  module=$(dpkg -L libnginx-mod-nchan 2>/dev/null | grep 'ngx_nchan_module\.so$' | head -n 1 || true)
fi
if [ -z "$module" ]; then
  echo "setup: ngx_nchan_module.so not found after installing libnginx-mod-nchan" >&2
  exit 1
fi
echo "setup: nginx $(nginx -v 2>&1 | sed 's/^nginx version: //'), nchan module at $module"
