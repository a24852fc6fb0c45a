package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// namedZone is one zone of the BIND 9 that startNamed runs.
type namedZone struct {
	name string // "clusterset.local"
	// kind is "secondary" (transfers the zone) or "stub" (reads only the apex SOA and
	// NS, and keeps the NS in its file).
	kind    string
	primary string // the primary's address; 127.0.0.1 when empty
	port    int    // the primary's port
}

// file is where BIND keeps the zone.
func (z namedZone) file(dir string) string { return filepath.Join(dir, z.name+".db") }

// startNamed runs BIND 9 (Debian's bind9, installed by hack/install-deps.sh) on
// 127.0.0.1:port with zones whose primary is CoreDNS. It accepts NOTIFY from each
// zone's primary only (BIND's default allow-notify). The SOA refresh is 7,200 s, so
// only NOTIFY makes it transfer again within seconds. It returns BIND's directory.
func startNamed(t *testing.T, port int, zones ...namedZone) string {
	t.Helper()
	bin, err := exec.LookPath("named")
	if err != nil {
		bin = "/usr/sbin/named"
		if _, serr := os.Stat(bin); serr != nil {
			if required() {
				t.Fatalf("named not found (run hack/install-deps.sh): %v", err)
			}
			t.Skipf("named not found (run hack/install-deps.sh): %v", err)
		}
	}
	dir := t.TempDir()
	var conf strings.Builder
	fmt.Fprintf(&conf, `options {
    directory "%[1]s";
    pid-file "%[1]s/named.pid";
    session-keyfile "%[1]s/session.key";
    managed-keys-directory "%[1]s";
    listen-on port %[2]d { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query { any; };
    // The shared cluster holds a 500-endpoint service (large_test.go); BIND 9.18
    // refuses RRsets over 100 records unless told otherwise.
    max-records-per-type 0;
    max-types-per-name 0;
};
`, dir, port)
	for _, z := range zones {
		primary := z.primary
		if primary == "" {
			primary = "127.0.0.1"
		}
		fmt.Fprintf(&conf, `zone %q {
    type %s;
    primaries port %d { %s; };
    file %q;
};
`, z.name, z.kind, z.port, primary, z.file(dir))
	}
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "named.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// -g: foreground, log to stderr; no -u: stay the user the tests run as.
	cmd := exec.Command(bin, "-g", "-4", "-c", filepath.Join(dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("named log:\n%s", readFile(t, logPath))
		}
	})
	return dir
}

// namedLog returns the log of the BIND that startNamed ran in dir.
func namedLog(t *testing.T, dir string) string { return readFile(t, filepath.Join(dir, "named.log")) }

// readFile returns a file's content, "" when it cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}
