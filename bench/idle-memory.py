#!/usr/bin/python3
"""bench/idle-memory.py: memory per idle connection of a running kura.

Starts kura in a temp dir, opens N connections of one kind, lets them go idle and reads the
private memory (Pss from /proc/PID/smaps_rollup) of all kura processes before and after.
Kinds: tls-preauth (implicit TLS, greeting read), tls-auth (logged in, relayed by login),
plain-auth (logged in over plaintext on loopback: the fd moves to the mail process).

    bench/idle-memory.py [--kura build/kura] [-n 2000] [--kind tls-auth]

Prints bytes per connection. Results are written down in bench/RESULTS.md."""
import argparse, os, resource, signal, socket, ssl, subprocess, sys, tempfile, time

def pss_total(master_pid):
    pids = [master_pid]
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                with open(f'/proc/{p}/stat') as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == master_pid:
                        pids.append(int(p))
            except OSError:
                pass
    total = 0
    for p in pids:
        try:
            with open(f'/proc/{p}/smaps_rollup') as f:
                for line in f:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total

def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p

def read_line(s):
    data = b''
    while not data.endswith(b'\n'):
        c = s.recv(4096)
        if not c:
            raise EOFError
        data += c
    return data

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kura', default='build/kura')
    ap.add_argument('-n', type=int, default=2000)
    ap.add_argument('--kind', default='tls-auth', choices=['tls-preauth', 'tls-auth', 'plain-auth'])
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    kura = os.path.abspath(a.kura)
    d = tempfile.mkdtemp(prefix='kura-bench-'); os.chmod(d, 0o755)
    p1, p2 = free_port(), free_port()
    conf = os.path.join(d, 'kura.conf')
    with open(conf, 'w') as f:
        f.write(f'data_dir = {d}/data\nimap_listen = 127.0.0.1:{p1}\nimaps_listen = 127.0.0.1:{p2}\n'
                'pop3_listen =\npop3s_listen =\n'
                'plaintext_auth = loopback\nlog_level = warning\n')
    subprocess.run([kura, '-c', conf, 'user', 'add', 'bench'], input=b'benchpw\n', check=True,
                   stdout=subprocess.DEVNULL)
    srv = subprocess.Popen([kura, '-c', conf, 'serve'], stderr=open(os.path.join(d, 'log'), 'w'))
    try:
        for _ in range(100):
            try:
                socket.create_connection(('127.0.0.1', p2)).close(); break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        before = pss_total(srv.pid)
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        conns = []
        for i in range(a.n):
            if a.kind.startswith('tls'):
                s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', p2)))
            else:
                s = socket.create_connection(('127.0.0.1', p1))
            read_line(s)
            if a.kind.endswith('auth'):
                s.sendall(b'a LOGIN bench benchpw\r\n')
                while not read_line(s).startswith(b'a '):
                    pass
            conns.append(s)
        time.sleep(2)
        after = pss_total(srv.pid)
        per = (after - before) / a.n
        print(f'{a.kind}: {a.n} idle connections, server Pss {before/1048576:.1f} MiB -> '
              f'{after/1048576:.1f} MiB, {per:.0f} bytes ({per/1024:.1f} KiB) per connection')
        for s in conns:
            s.close()
    finally:
        srv.send_signal(signal.SIGTERM); srv.wait(timeout=20)

if __name__ == '__main__':
    main()
