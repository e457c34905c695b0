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
        # Returns where the match ends, so text that arrived with it (the next prompt, say)
        # is still there for the next step; False on timeout or end of output.
        nonlocal seen
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern.encode(), seen[mark:]) if pattern is not None else None
            if m:
                return mark + m.end()
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
            end = read_until(step['expect'], step.get('timeout', 15))
            if end is False:
                sys.stdout.write(seen.decode('utf8', 'replace'))
                sys.stderr.write('pty_drive: did not see %r\n' % step['expect'])
                os.kill(pid, 9)
                sys.exit(124)
            mark = end
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
