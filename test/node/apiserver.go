package node

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
)

// apiForwarder makes the API server, which listens on loopback only, reachable from pods: it
// listens on the node's address at the API server's port and copies each connection to
// loopback. The API server advertises the node's address (APIServerArgs), so the `kubernetes`
// Service's endpoint is this listener and in-cluster clients (CoreDNS from deploy/) reach it as
// kubernetes.default through kube-proxy, as in a cluster whose API server is on the node.
// TLS passes through untouched: the client still verifies the API server's certificate, which
// names the Service's ClusterIP.
type apiForwarder struct {
	ln   net.Listener
	wg   sync.WaitGroup
	done chan struct{}
}

// forwardAPIServer starts forwarding the node's address at port to 127.0.0.1:port.
func (n *Node) forwardAPIServer(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(n.opts.apiAddr().String(), strconv.Itoa(port)))
	if err != nil {
		return err
	}
	f := &apiForwarder{ln: ln, done: make(chan struct{})}
	n.api = f
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.pipe(c, target)
			}()
		}
	}()
	return nil
}

func (f *apiForwarder) pipe(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	copied := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); copied <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); copied <- struct{}{} }()
	select {
	case <-copied:
	case <-f.done:
	}
}

func (f *apiForwarder) stop() error {
	close(f.done)
	err := f.ln.Close()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// advertiseArgs make the API server publish nodeIP as the `kubernetes` Service's endpoint
// (the lease reconciler writes it; the control plane's default writes none).
func advertiseArgs(nodeIP netip.Addr) []string {
	return []string{"--advertise-address=" + nodeIP.String(), "--endpoint-reconciler-type=lease"}
}
