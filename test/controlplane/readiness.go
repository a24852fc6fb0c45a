package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// WaitReady waits until kube-apiserver answers /readyz with 200, at most ReadyTimeout. If a
// process exits meanwhile it fails at once. Errors carry the tail of the API server's log.
func (c *ControlPlane) WaitReady(ctx context.Context) error {
	client := c.probeClient()
	url := c.Host() + "/readyz"
	return c.poll(ctx, c.apiserver, func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+c.adminToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	})
}

func (c *ControlPlane) waitEtcd(ctx context.Context) error {
	client := c.probeClient()
	url := c.EtcdEndpoint() + "/health"
	return c.poll(ctx, c.etcd, func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`),
			fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	})
}

// poll calls check every 100ms until it succeeds, p exits, ctx ends or the timeout passes.
func (c *ControlPlane) poll(ctx context.Context, p *process, check func() (bool, string)) error {
	deadline := time.Now().Add(c.timeout)
	last := ""
	for {
		if gone, werr := p.exited(); gone {
			return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, werr, p.logPath, logTail(p.logPath, 30))
		}
		ready, detail := check()
		if ready {
			return nil
		}
		last = detail
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last probe: %s); last lines of %s:\n%s",
				p.name, c.timeout, last, p.logPath, logTail(p.logPath, 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last probe: %s)", p.name, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *ControlPlane) probeClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool},
			DisableKeepAlives: true, // probes span restarts: never reuse a dead connection
			Proxy:             nil,
		},
	}
}
