package controlplane

// Daemon is a long-running child process with its output appended to a log file: what etcd and
// kube-apiserver run as, offered to packages that run more of a cluster (containerd, kubelet,
// kube-proxy in test/node) so that every child of the suites is started, stopped and reaped the
// same way.
type Daemon struct{ p *process }

// StartDaemon starts bin with args, its stdout and stderr appended to logPath. Without detach it
// dies with this program (a crashed test leaves nothing behind); with detach it gets its own
// session and outlives it.
func StartDaemon(name, bin string, args []string, logPath string, detach bool) (*Daemon, error) {
	p := &process{name: name, bin: bin, args: args, logPath: logPath, detach: detach}
	if err := p.start(); err != nil {
		return nil, err
	}
	return &Daemon{p: p}, nil
}

// StartDaemonInNetNS is StartDaemon with the process in the network namespace at netnsPath
// (e.g. /run/netns/NAME): a second node's kubelet and kube-proxy, whose ports, routes and
// iptables chains would clash with the first's in the host's namespace.
func StartDaemonInNetNS(netnsPath, name, bin string, args []string, logPath string, detach bool) (*Daemon, error) {
	p := &process{name: name, bin: bin, args: args, logPath: logPath, detach: detach, netns: netnsPath}
	if err := p.start(); err != nil {
		return nil, err
	}
	return &Daemon{p: p}, nil
}

// Stop sends SIGTERM, then SIGKILL if the process has not exited after a while, and waits until
// it is gone.
func (d *Daemon) Stop() error { return d.p.stop() }

// Exited reports whether the process has exited, and how.
func (d *Daemon) Exited() (bool, error) { return d.p.exited() }

// PID is the process id (0 once stopped).
func (d *Daemon) PID() int { return d.p.getPID() }

// LogTail returns the last n lines of the process's log.
func (d *Daemon) LogTail(n int) string { return logTail(d.p.logPath, n) }

// PIDRunning reports whether pid is a live (not zombie) process running bin (compared by base
// name): a PID read from a file may have been reused since it was written.
func PIDRunning(pid int, bin string) bool { return pidRunning(pid, bin) }
