package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Addr is the DNS address of the first server block, 127.0.0.1:Port.
func (c *CoreDNS) Addr() string { return "127.0.0.1:" + strconv.Itoa(c.Port) }

// WaitDNS waits until something answers a DNS query on Addr. The query is ". NS",
// which CoreDNS answers (if only with REFUSED) without asking any plugin, so a plugin
// still syncing does not delay it.
func (c *CoreDNS) WaitDNS(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	probe := []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1}
	for {
		if c.Exited() {
			return fmt.Errorf("coredns exited (%v) before answering; log %s:\n%s", c.werr, c.LogPath, c.LogTail(20))
		}
		conn, err := net.Dial("udp", c.Addr())
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = conn.Write(probe)
			buf := make([]byte, 512)
			n, rerr := conn.Read(buf)
			conn.Close()
			if rerr == nil && n >= 12 && buf[0] == 0x12 && buf[1] == 0x34 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("coredns not answering on %s after %s; log %s:\n%s", c.Addr(), timeout, c.LogPath, c.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Exited reports whether the process has exited.
func (c *CoreDNS) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, then SIGKILL after 10s (CoreDNS's lameduck, if configured, runs
// in between), and waits for the process to exit.
func (c *CoreDNS) Stop() error {
	defer c.removePIDFile()
	if c.Exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	return c.Kill()
}

// Kill stops CoreDNS at once (SIGKILL), skipping any lameduck period.
func (c *CoreDNS) Kill() error {
	defer c.removePIDFile()
	if c.Exited() {
		return nil
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("coredns (pid %d) did not exit after SIGKILL", c.PID)
	}
}

// Log returns everything CoreDNS has written so far.
func (c *CoreDNS) Log() string {
	data, err := os.ReadFile(c.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(data)
}

// LogTail returns the last n lines of the log: where CoreDNS says why it stopped.
func (c *CoreDNS) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(c.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
