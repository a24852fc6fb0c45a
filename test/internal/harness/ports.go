package harness

import (
	"errors"
	"io"
	"net"
	"strconv"
)

// FreePorts returns n distinct ports that were free on 127.0.0.1 for both TCP and UDP a
// moment ago. Every port found stays held until all n are, so none is returned twice.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries == 20*n {
			return nil, errors.New("no port free for both TCP and UDP on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		held = append(held, u)
		ports = append(ports, p)
	}
	return ports, nil
}

// PortFree reports whether port is free on 127.0.0.1 for TCP and UDP.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	u.Close()
	return true
}
