# Sourced by scripts/bootstrap: install Debian packages without leaving services behind.
#
#   quiet_services_begin   before apt-get install: note the services enabled (systemd units,
#                          SysV links) and running, and keep packages from starting any while
#                          they install (a policy-rc.d that answers 101, as Debian's invoke-rc.d
#                          and deb-systemd-invoke ask it)
#   quiet_services_end     after: disable, and stop, what the install enabled or started, and
#                          put policy-rc.d back as it was
#
# Both run their commands through $ROOT_PREFIX ("" as root, or "sudo").

POLICY_RC_D=/usr/sbin/policy-rc.d
QUIET_STATE=""

systemd_runs() { [ -d /run/systemd/system ]; }

enabled_services() {
    if command -v systemctl >/dev/null 2>&1; then
        systemctl list-unit-files --type=service,socket,timer --state=enabled --no-legend \
            2>/dev/null | awk '{print "systemd " $1}'
    fi
    local link
    for link in /etc/rc[2345].d/S*; do
        [ -e "$link" ] && echo "sysv $(basename "$link" | sed 's/^S[0-9]*//')"
    done
    return 0
}

running_services() {
    systemd_runs || return 0
    systemctl list-units --type=service,socket --state=running --no-legend --plain 2>/dev/null |
        awk '{print $1}'
}

quiet_services_begin() {
    QUIET_STATE="$(mktemp -d)"
    enabled_services | sort -u >"$QUIET_STATE/enabled"
    running_services | sort -u >"$QUIET_STATE/running"
    if [ -e "$POLICY_RC_D" ]; then
        $ROOT_PREFIX cp -p "$POLICY_RC_D" "$QUIET_STATE/policy-rc.d"
    fi
    printf '#!/bin/sh\n# Written by mwm-tui bootstrap while it installs packages.\nexit 101\n' |
        $ROOT_PREFIX tee "$POLICY_RC_D" >/dev/null
    $ROOT_PREFIX chmod 755 "$POLICY_RC_D"
}

quiet_services_end() {
    [ -n "$QUIET_STATE" ] || return 0
    local kind name
    if [ -e "$QUIET_STATE/policy-rc.d" ]; then
        $ROOT_PREFIX cp -p "$QUIET_STATE/policy-rc.d" "$POLICY_RC_D"
    else
        $ROOT_PREFIX rm -f "$POLICY_RC_D"
    fi
    enabled_services | sort -u | comm -13 "$QUIET_STATE/enabled" - | while read -r kind name; do
        echo "bootstrap: left disabled: $name (enabled by its package; the tests start their own)" >&2
        if [ "$kind" = systemd ]; then
            if systemd_runs; then
                $ROOT_PREFIX systemctl disable --now --quiet "$name" || true
            else
                $ROOT_PREFIX systemctl disable --quiet "$name" || true
            fi
        else
            $ROOT_PREFIX update-rc.d "$name" disable >/dev/null 2>&1 || true
        fi
    done
    running_services | sort -u | comm -13 "$QUIET_STATE/running" - | while read -r name; do
        echo "bootstrap: stopped: $name (started by its package)" >&2
        $ROOT_PREFIX systemctl stop "$name" || true
    done
    rm -rf "$QUIET_STATE"
    QUIET_STATE=""
}
