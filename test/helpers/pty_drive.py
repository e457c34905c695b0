# Drive a command in a pseudo-terminal like a person at a keyboard: wait for text, then type keys.
# usage: pty_drive.py STEPS_JSON -- command args...   STEPS_JSON = [{"expect": regex, "send": keys}, ...]
# Prints everything the terminal showed; exits with the command's status (124 on a timeout).
import json, os, pty, re, select, sys, time

def main():
    steps = json.loads(sys.argv[1])
    cmd = sys.argv[sys.argv.index('--') + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b''
    status = None

    def read_until(pattern, timeout):
        nonlocal seen
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pattern is not None and re.search(pattern.encode(), seen[mark:]):
                return True
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                seen += chunk
        return pattern is None

    mark = 0
    for step in steps:
        if 'expect' in step:
            if not read_until(step['expect'], step.get('timeout', 15)):
                sys.stdout.write(seen.decode('utf8', 'replace'))
                sys.stderr.write('pty_drive: did not see %r\n' % step['expect'])
                os.kill(pid, 9)
                sys.exit(124)
            mark = len(seen)
        if 'send' in step:
            os.write(fd, step['send'].encode())
    read_until(None, 10)
    try:
        _, st = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(st)
    except ChildProcessError:
        status = 0
    sys.stdout.write(seen.decode('utf8', 'replace'))
    sys.exit(status if status >= 0 else 128 - status)

main()
