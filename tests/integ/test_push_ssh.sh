#!/usr/bin/env bash
# tests/integ/test_push_ssh.sh - git push over ssh publishes, as it does
# over a local path: a real OpenSSH server on a free loopback port, with its
# own host key and an authorized key made for this run, serves the site's
# bare repository; the pre-receive hook runs in the ssh session's
# environment (no PIER_HOME, a login PATH) and finds its settings in the
# repository's git config. The pusher sees the publisher's lines as
# "remote:", a failed publish refuses the push, and the edge serves what
# was pushed.
source "$(dirname "$0")/lib.sh"

sshd=/usr/sbin/sshd
for prog in "$sshd" ssh ssh-keygen git curl; do
    command -v "$prog" >/dev/null || {
        echo "FAIL: $prog not found: run scripts/install-deps" >&2
        exit 1
    }
done

start_up
"$PIER" site create blog --domain blog.example.com >"$work/create.out"

# The ssh server: keys, a configuration that trusts only this run's key,
# and a port the kernel says is free (sshd cannot listen on port 0 and
# report it).
ssh-keygen -q -t ed25519 -N "" -f "$work/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=$(id -un)
cat >"$work/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
AllowUsers $user
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
EOF
if [ "$(id -u)" = 0 ]; then
    mkdir -p /run/sshd # sshd's privilege separation directory
fi
"$sshd" -D -e -f "$work/sshd_config" 2>"$work/sshd.txt" &
sshd_pid=$!
stop_sshd() {
    kill -TERM "$sshd_pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$sshd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
}
trap 'rc=$?; stop_sshd; (exit $rc); stop_all' EXIT

export GIT_SSH_COMMAND="ssh -p $port -i $work/client_key -o IdentitiesOnly=yes \
-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
-o BatchMode=yes"
up=0
for _ in $(seq 100); do
    if $GIT_SSH_COMMAND "$user@127.0.0.1" true 2>/dev/null; then
        up=1
        break
    fi
    kill -0 "$sshd_pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" != 1 ]; then
    echo "FAIL: sshd did not come up on 127.0.0.1:$port" >&2
    cat "$work/sshd.txt" >&2
    exit 1
fi

# The site, pushed over ssh.
src="$work/src"
cp -r "$top_srcdir/examples/site" "$src"
git_site "$src" one
git -C "$src" remote add pier "ssh://$user@127.0.0.1:$port$data/repos/blog.git"
check "git push over ssh publishes" \
    bash -c 'git -C "$0" push pier main 2>"$1/push1.log"' "$src" "$work"
check "the pusher sees the publisher as remote: lines" grep -q "^remote: .*deploy" "$work/push1.log"
check "the branch moved on the server" \
    test "$(git --git-dir="$data/repos/blog.git" rev-parse main)" = "$(git -C "$src" rev-parse main)"

page() {
    curl -s -H "Host: blog.example.com" "http://$http$1"
}
check "the edge serves the pushed site" bash -c 'grep -q "Published with pier" <<<"$0"' "$(page /)"
css=$(page / | grep -o 'href="/css/site\.[0-9a-f]*\.css"' | head -1 | cut -d'"' -f2 || true)
check "with its hashed stylesheet" test -n "$css"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: blog.example.com" "http://$http$css")
check "the stylesheet is served" test "$code" = 200

# A change over ssh is live when the push returns.
sed -i 's/Published with pier/Pushed over ssh/' "$src/index.html"
git -C "$src" -c user.name=t -c user.email=t@t commit -qam two
check "second push over ssh publishes" \
    bash -c 'git -C "$0" push -q pier main 2>"$1/push2.log"' "$src" "$work"
check "the change is live after the push" bash -c 'grep -q "Pushed over ssh" <<<"$0"' "$(page /)"

# A broken _headers refuses the push over ssh; the pusher sees the file and
# line, and the site stays as it was.
head_before=$(git --git-dir="$data/repos/blog.git" rev-parse main)
printf '/x\n  no colon here\n' >>"$src/_headers"
sed -i 's/Pushed over ssh/Broken over ssh/' "$src/index.html"
git -C "$src" -c user.name=t -c user.email=t@t commit -qam broken
check "a push with a broken _headers is refused over ssh" \
    bash -c '! git -C "$0" push -q pier main 2>"$1/push3.log"' "$src" "$work"
check "the pusher sees which file failed" grep -q "remote: .*_headers" "$work/push3.log"
check "the branch did not move" \
    test "$(git --git-dir="$data/repos/blog.git" rev-parse main)" = "$head_before"
check "the live site is unchanged" bash -c 'grep -q "Pushed over ssh" <<<"$0"' "$(page /)"

if [ "$failures" != 0 ]; then
    for f in push1 push2 push3; do
        echo "--- $f.log" >&2
        cat "$work/$f.log" >&2 || true
    done
    cat "$work/sshd.txt" >&2
fi
finish
