package multicluster

import (
	"bytes"
	golog "log"
	"os"
	"strings"
	"sync"
	"testing"
)

// logLines captures what the plugin logs (CoreDNS's log package writes through the
// standard logger) until the test ends. count returns how many lines hold s.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func captureLog(t *testing.T) *logLines {
	t.Helper()
	l := &logLines{}
	golog.SetOutput(l)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })
	return l
}
