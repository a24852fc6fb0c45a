// Command mcs-image writes the CoreDNS image with the multicluster plugin as an OCI archive
// (`make image`), without a container daemon or a base image:
//
//	go run ./image/cmd/mcs-image -binary ../bin/coredns -o ../bin/coredns-multicluster.oci.tar
//
// The image holds one layer: /coredns (the static binary from `make coredns`, with the file
// capability to bind port 53 as non-root) and an /etc/passwd and /etc/group naming the
// non-root user it runs as, 65532 ("nonroot", as in the distroless images kubeadm's
// CoreDNS uses). Every timestamp, owner and mode is fixed, so the same binary gives the
// same digest on any machine.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/mcs-dns/multicluster/test/image"
)

func main() {
	var o image.Options
	flag.StringVar(&o.Binary, "binary", "../bin/coredns", "the CoreDNS binary to package (static, CGO_ENABLED=0)")
	flag.StringVar(&o.Output, "o", "../bin/coredns-multicluster.oci.tar", "the OCI archive to write")
	flag.StringVar(&o.Name, "name", "localhost/coredns-multicluster:dev", "the image name recorded in the archive (org.opencontainers.image.ref.name)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "the binary's architecture")
	flag.Parse()
	res, err := image.Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s, %s, %.1f MB (layer %.1f MB compressed)\n", o.Output, o.Name, res.Digest, float64(res.ArchiveSize)/1e6, float64(res.LayerSize)/1e6)
}
